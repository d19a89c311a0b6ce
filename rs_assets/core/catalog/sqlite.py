"""Embedded catalog on SQLite: the default for development, with the same contract as the STAC API."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cql2

from ..errors import CatalogError, ItemExistsError
from .base import ID_PAGE, Catalog, Item, OwnerNamespace, new_collection, pages

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    collection TEXT NOT NULL REFERENCES collections(id),
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
"""


class SqliteCatalog(Catalog):
    def __init__(self, path: str | Path, naming: OwnerNamespace | None = None):
        super().__init__(naming or OwnerNamespace())
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=60000")
            self._local.db = db
        try:
            yield db
        except sqlite3.Error as exc:
            raise CatalogError(f"sqlite catalog {self.path}: {exc}") from exc

    def ensure_collection(self, collection: str, description: str = "") -> None:
        wire = self.wire_id(collection)
        with self._connection() as db:
            db.execute(
                "INSERT OR IGNORE INTO collections (id, body) VALUES (?, ?)",
                (wire, json.dumps(new_collection(wire, description))),
            )

    def collection_exists(self, collection: str) -> bool:
        with self._connection() as db:
            row = db.execute("SELECT 1 FROM collections WHERE id = ?", (self.wire_id(collection),)).fetchone()
        return row is not None

    def collections(self) -> list[str]:
        with self._connection() as db:
            return self._own(row[0] for row in db.execute("SELECT id FROM collections"))

    def _require(self, db: sqlite3.Connection, collection: str) -> str:
        wire = self.wire_id(collection)
        if db.execute("SELECT 1 FROM collections WHERE id = ?", (wire,)).fetchone() is None:
            raise CatalogError(f"sqlite catalog {self.path}: collection {wire!r} does not exist")
        return wire

    def upsert_items(self, collection: str, items: Sequence[Item]) -> int:
        with self._connection() as db:
            wire = self._require(db, collection)
            rows = [(wire, item["id"], json.dumps(item)) for item in self._stamp(collection, items)]
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO items (collection, id, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (collection, id) DO UPDATE SET body = excluded.body",
                    rows,
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return len(rows)

    def insert_item(self, collection: str, item: Item) -> None:
        with self._connection() as db:
            wire = self._require(db, collection)
            try:
                db.execute(
                    "INSERT INTO items (collection, id, body) VALUES (?, ?, ?)",
                    (wire, item["id"], json.dumps(self._stamp(collection, [item])[0])),
                )
            except sqlite3.IntegrityError:
                raise ItemExistsError(f"item {item['id']!r} already exists in collection {wire!r}") from None

    def existing_ids(self, collection: str, ids: Iterable[str]) -> set[str]:
        return self._ids_where(collection, ids, "")

    def expired_ids(self, collection: str, ids: Iterable[str]) -> set[str]:
        return self._ids_where(
            collection,
            ids,
            " AND ((json_extract(body, '$.properties.unpublished') IS NOT NULL"
            """ AND json_extract(body, '$.properties."rs:superseded_by"') IS NULL)"""
            """ OR json_extract(body, '$.properties."rs:harvested"') IS NOT NULL)""",
        )

    def _ids_where(self, collection: str, ids: Iterable[str], condition: str) -> set[str]:
        """Which of ``ids`` are in ``collection`` and meet ``condition`` (SQL appended to the WHERE clause)."""
        wire = self.wire_id(collection)
        found: set[str] = set()
        with self._connection() as db:
            for page in pages(list(dict.fromkeys(ids)), ID_PAGE):
                marks = ",".join("?" * len(page))
                rows = db.execute(
                    f"SELECT id FROM items WHERE collection = ? AND id IN ({marks}){condition}", (wire, *page)
                )
                found.update(row[0] for row in rows)
        return found

    def item_url(self, collection: str, item_id: str) -> str:
        return f"{self.path.resolve().as_uri()}#/collections/{quote(self.wire_id(collection), safe=':')}/items/{quote(item_id, safe='')}"

    def get_item(self, collection: str, item_id: str) -> Item | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT body FROM items WHERE collection = ? AND id = ?", (self.wire_id(collection), item_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def delete_item(self, collection: str, item_id: str) -> bool:
        with self._connection() as db:
            cursor = db.execute(
                "DELETE FROM items WHERE collection = ? AND id = ?", (self.wire_id(collection), item_id)
            )
        return cursor.rowcount > 0

    def search(
        self,
        collections: Sequence[str],
        *,
        filter: dict[str, Any] | None = None,
        sortby: Sequence[dict[str, str]] | None = None,
        limit: int | None = None,
    ) -> list[Item]:
        wires = [self.wire_id(c) for c in collections]
        try:
            expression = cql2.Expr(filter) if filter else None
        except Exception as exc:
            raise CatalogError(f"invalid CQL2 filter {json.dumps(filter)}: {exc}") from None
        with self._connection() as db:
            marks = ",".join("?" * len(wires))
            rows = db.execute(f"SELECT body FROM items WHERE collection IN ({marks}) ORDER BY id", wires)
            items = [json.loads(row[0]) for row in rows]
        if expression is not None:
            items = [item for item in items if _matches(expression, item)]
        for key in reversed(sortby or []):
            field = key["field"].removeprefix("properties.")
            items.sort(
                key=partial(_sort_key, field=field),
                reverse=key.get("direction", "asc") == "desc",
            )
        return items[:limit] if limit is not None else items


def _matches(expression: cql2.Expr, item: Item) -> bool:
    """As pgstac answers: ``datetime`` is the start of an item's interval and ``end_datetime`` its end (the
    instant itself for an item without one), and a comparison with a property the item lacks is false, not an
    error (cql2 cannot reduce it, and says so with a bare ``Exception``)."""
    properties = item.get("properties", {})
    start = properties.get("datetime") or properties.get("start_datetime")
    end = properties.get("end_datetime") or start
    if (start, end) != (properties.get("datetime"), properties.get("end_datetime")):
        item = {**item, "properties": {**properties, "datetime": start, "end_datetime": end}}
    try:
        return bool(expression.matches(item))
    except Exception:
        return False


def _sort_key(item: Item, field: str) -> tuple[bool, str]:
    value = item.get(field) if field in ("id", "collection") else item.get("properties", {}).get(field)
    return (value is not None, "" if value is None else str(value))
