"""A real Dagster (``dg dev``: webserver, daemon, code server, run workers) and a real SeaweedFS as processes
the test can kill with SIGKILL and start again, on the instance configuration ``scripts/dev`` uses."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SEAWEED_GRPC_OFFSET = 10_000


def seaweed_ports(count: int) -> list[int]:
    """``count`` consecutive free ports below the ephemeral range whose gRPC twins are free too.

    SeaweedFS serves gRPC on ``port + 10000`` and refuses any port that is another one's twin, so ports picked by
    the kernel (up to 60999) can collide on a restart or exceed 65535.
    """
    for _ in range(500):
        base = random.randrange(20_000, 32_000 - count)
        ports = range(base, base + count)
        if all(_bindable(p) and _bindable(p + SEAWEED_GRPC_OFFSET) for p in ports):
            return list(ports)
    raise AssertionError(f"no {count} free consecutive ports with free gRPC twins in 20000-42000")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_with(marker: str) -> list[int]:
    """Pids of the processes whose environment holds ``marker``: every process of one Dagster instance."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def kill_all(marker: str) -> int:
    """SIGKILL every process of the instance at once, as a crash of its machine would."""
    pids = processes_with(marker)
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def wait_until[T](
    what: str, seconds: float, check: Callable[[], T], log: Path | None = None, every: float = 2
) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s\n{tail}")


def instance_home(path: Path) -> Path:
    """A DAGSTER_HOME with the ``dagster.yaml`` of ``rs-assets instance-config``."""
    path.mkdir(parents=True, exist_ok=True)
    config = subprocess.run(
        [str(VENV / "bin" / "rs-assets"), "instance-config"], capture_output=True, text=True, check=True
    )
    (path / "dagster.yaml").write_text(config.stdout)
    return path


def dagster_env(settings: dict[str, str], home: Path, marker: str, tmp: Path) -> dict[str, str]:
    """The environment of a code location on ``settings`` (no processors: no conversion family in these tests)."""
    no_processors = tmp / "processors.yaml"
    no_processors.write_text("processors: []\n")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RS_ASSETS_", "DAGSTER_"))},
        **settings,
        "DAGSTER_HOME": str(home),
        "RS_ASSETS_PROCESSORS_FILE": str(no_processors),
        "RS_TEST_INSTANCE": marker,
        "VIRTUAL_ENV": str(VENV),
        "PATH": f"{VENV}/bin:{os.environ['PATH']}",
    }


@contextmanager
def dagster_dev(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """``dg dev`` as ``scripts/dev`` starts it; stopped with SIGINT (the signal it honours) when still running."""
    process = subprocess.Popen(
        [str(VENV / "bin" / "dg"), "dev", "--use-active-venv", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class SeaweedFS:
    """``weed mini`` on its own ports and folder, so that a test can kill it and start it again on the same data
    and the same ports."""

    def __init__(self, folder: Path, keys: tuple[str, str]):
        self.folder, self.keys = folder, keys
        self.port, *self.others = seaweed_ports(8)
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SeaweedFS:
        self.folder.mkdir(parents=True, exist_ok=True)
        ports = self.others
        args = [
            str(VENV / "bin" / "weed"), "mini", f"-dir={self.folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={self.port}",
            f"-master.port={ports[0]}", f"-volume.port={ports[1]}", f"-filer.port={ports[2]}",
            f"-admin.port={ports[3]}", "-admin.ui=false", f"-s3.port.iceberg={ports[4]}",
            f"-s3.port.lance={ports[5]}", "-webdav=false", f"-metricsPort={ports[6]}", "-volume.max=200",
        ]  # fmt: skip
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.keys[0], "AWS_SECRET_ACCESS_KEY": self.keys[1]}
        self.process = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=(self.folder / "weed.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until("SeaweedFS answering", 90, lambda: listening(self.port), self.folder / "weed.log", 0.5)
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
