"""Materialization metadata an operator reads at a glance; built the same way by every family."""

from typing import Any

import dagster as dg

from rs_assets.core.staging.parallel import StagingReport


def failure_list(failures: list[str]) -> dg.MetadataValue:
    """What failed, one line each, as every family reports it."""
    return dg.MetadataValue.md("\n".join(f"- {f}" for f in failures) or "none")


def fail_on(failures: list[str], summary: str, metadata: dict[str, Any]) -> None:
    """Raised only once everything else is done, naming the first few failures after ``summary``."""
    if failures:
        raise dg.Failure(f"{summary}: {'; '.join(failures[:5])}", metadata=metadata)


def staging_metadata(report: StagingReport) -> dict[str, Any]:
    failures = [f"{o.task.source.name}: {o.error}" for o in report.failed]
    return {
        "count": dg.MetadataValue.int(len(report.outcomes)),
        "staged": dg.MetadataValue.int(len(report.staged)),
        "skipped": dg.MetadataValue.int(len(report.skipped)),
        "failed": dg.MetadataValue.int(len(report.failed)),
        "bytes": dg.MetadataValue.int(report.transferred_bytes),
        "MB/s": dg.MetadataValue.float(round(report.mb_per_s, 2)),
        "seconds": dg.MetadataValue.float(round(report.seconds, 2)),
        "failures": failure_list(failures),
        "files": dg.MetadataValue.md(report.markdown()),
    }


class Progress:
    """Logs every tenth of the work (every ten items when the total is not known up front)."""

    def __init__(self, log: Any, total: int, what: str):
        self.log, self.what, self.done = log, what, 0
        self.planned(total)

    def planned(self, total: int) -> None:
        """The total, once the step knows it."""
        self.total = total
        self.step = max(1, total // 10) if total else 10
        if total:
            self.log.info(f"{self.what}: {total} to do")

    def __call__(self, outcome: Any) -> None:
        """``outcome`` is a staging outcome, or an error message (None when that step went well)."""
        self.done += 1
        if isinstance(outcome, str):
            self.log.warning(f"{self.what}: {outcome}")
        elif getattr(outcome, "error", None):
            self.log.warning(f"{self.what}: {outcome.task.source.name} failed: {outcome.error}")
        if self.done % self.step == 0 or self.done == self.total:
            self.log.info(f"{self.what}: {self.done}/{self.total or '?'} done")


def fail_if_any(report: StagingReport, what: str, metadata: dict[str, Any]) -> None:
    """One failed file never loses the others: the run fails only at the end, naming what failed."""
    if report.failed:
        names = ", ".join(o.task.source.name for o in report.failed[:10])
        raise dg.Failure(
            f"{what}: {len(report.failed)} of {len(report.outcomes)} files failed: {names}", metadata=metadata
        )
