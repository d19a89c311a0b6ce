"""Which bucket (and retention) an item goes to: one CSV, one documented rule.

Rows are ``owner, collection, product_type, expiration_days, bucket``; ``*`` matches anything. Among the
rows that match, the most specific wins: an exact value beats ``*``, and exactness of the owner counts more
than of the collection, which counts more than of the product type. Ties go to the first row in the file.
No matching row is an error naming the triple: data is never put in a bucket nobody chose.

A row whose bucket is not a valid S3 bucket name (the reference's own file has a ``fake_bucket`` row) does not
reject the file: it is reported in ``warnings`` when the file is read, and is an error only when it is the row
chosen for an item.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..errors import ConfigError

HEADER = ("owner", "collection", "product_type", "expiration_days", "bucket")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def valid_bucket(name: str) -> bool:
    return bool(_BUCKET.match(name))


@dataclass(frozen=True)
class BucketRule:
    owner: str
    collection: str
    product_type: str
    expiration_days: int | None
    bucket: str
    line: int

    def matches(self, owner: str, collection: str, product_type: str) -> bool:
        return all(
            rule in ("*", value)
            for rule, value in (
                (self.owner, owner),
                (self.collection, collection),
                (self.product_type, product_type),
            )
        )

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        return (self.owner != "*", self.collection != "*", self.product_type != "*")


@dataclass(frozen=True)
class Placement:
    bucket: str
    expiration_days: int | None
    rule_line: int

    def expires(self, start: datetime) -> datetime | None:
        return start + timedelta(days=self.expiration_days) if self.expiration_days is not None else None


class BucketRules:
    def __init__(self, rules: list[BucketRule], source: str = "<rules>"):
        if not rules:
            raise ConfigError(f"bucket rules {source}: no rules")
        self.rules = rules
        self.source = source
        self.warnings = [
            f"bucket rules {source} line {r.line}: {r.bucket!r} is not a valid S3 bucket name; "
            "items this row is chosen for will fail"
            for r in rules
            if not valid_bucket(r.bucket)
        ]

    def place(self, owner: str, collection: str, product_type: str) -> Placement:
        best: BucketRule | None = None
        for rule in self.rules:
            if rule.matches(owner, collection, product_type) and (
                best is None or rule.specificity > best.specificity
            ):
                best = rule
        if best is None:
            raise ConfigError(
                f"bucket rules {self.source}: no rule matches owner={owner!r}, collection={collection!r}, "
                f"product_type={product_type!r}"
            )
        if not valid_bucket(best.bucket):
            raise ConfigError(
                f"bucket rules {self.source} line {best.line}: {best.bucket!r} is not a valid S3 bucket name "
                f"(the row chosen for owner={owner!r}, collection={collection!r}, product_type={product_type!r})"
            )
        return Placement(best.bucket, best.expiration_days, best.line)

    @property
    def buckets(self) -> list[str]:
        """The valid buckets the rows name."""
        return list(dict.fromkeys(rule.bucket for rule in self.rules if valid_bucket(rule.bucket)))

    @classmethod
    def parse(cls, text: str, source: str = "<rules>") -> BucketRules:
        reader = csv.reader(io.StringIO(text))
        rules: list[BucketRule] = []
        header_seen = False
        for line, row in enumerate(reader, start=1):
            cells = [cell.strip() for cell in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if not header_seen:
                header_seen = True
                if tuple(c.lower() for c in cells) == HEADER:
                    continue
            if len(cells) != len(HEADER):
                raise ConfigError(
                    f"bucket rules {source} line {line}: expected {len(HEADER)} columns ({', '.join(HEADER)}), got {len(cells)}"
                )
            owner, collection, product_type, days, bucket = cells
            if not all((owner, collection, product_type)):
                raise ConfigError(
                    f"bucket rules {source} line {line}: owner, collection and product_type must not be empty (use *)"
                )
            if days in ("", "*", "-"):
                expiration = None
            elif days.isdigit():
                expiration = int(days)
            else:
                raise ConfigError(
                    f"bucket rules {source} line {line}: expiration_days {days!r} is not a whole number of days"
                )
            if not bucket:
                raise ConfigError(f"bucket rules {source} line {line}: the bucket is empty")
            rules.append(BucketRule(owner, collection, product_type, expiration, bucket, line))
        return cls(rules, source)

    @classmethod
    def load(cls, path: str | Path) -> BucketRules:
        path = Path(path)
        try:
            return cls.parse(path.read_text(), str(path))
        except FileNotFoundError:
            raise ConfigError(f"bucket rules file {path} does not exist") from None
