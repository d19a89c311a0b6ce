"""The catalog contract every backend honours, and the owner-prefix rule for collection ids."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import Any

from ..tracing import span

Item = dict[str, Any]

ID_PAGE = 500
UPSERT_PAGE = 500


@dataclass(frozen=True)
class OwnerNamespace:
    """Collections may be namespaced per owner on the wire (``owner:collection``, as the RS catalog does)."""

    owner: str = "copernicus"
    prefixed: bool = True
    separator: str = ":"

    def wire_id(self, collection: str) -> str:
        if not self.prefixed or collection.startswith(f"{self.owner}{self.separator}"):
            return collection
        return f"{self.owner}{self.separator}{collection}"


def pages[T](values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def new_collection(wire_id: str, description: str) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": wire_id,
        "description": description or wire_id,
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }


TRACED = (
    "ensure_collection",
    "collection_exists",
    "collections",
    "upsert_items",
    "insert_item",
    "existing_ids",
    "expired_ids",
    "get_item",
    "delete_item",
    "search",
)


def _traced[**P, R](name: str, method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        catalog, rest = args[0], args[1:]
        where = rest[0] if rest else kwargs.get("collection") or kwargs.get("collections")
        attributes: dict[str, Any] = {"rs.catalog": type(catalog).__name__}
        if isinstance(where, str):
            attributes["rs.collection"] = where
        elif isinstance(where, list | tuple):
            attributes["rs.collection"] = ",".join(map(str, where))
        if len(rest) > 1 and isinstance(rest[1], str):
            attributes["rs.item"] = rest[1]
        elif len(rest) > 1 and isinstance(rest[1], Sized):
            attributes["rs.items"] = len(rest[1])
        with span(f"catalog.{name}", **attributes):
            return method(*args, **kwargs)

    return call


class Catalog(ABC):
    """Item-level operations in bulk: staging publishes pages of items, never one request per item.

    Every backend's public operations are traced (``TRACED``): a span each, with the collection and item."""

    def __init__(self, naming: OwnerNamespace):
        self.naming = naming

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in TRACED:
            if name in cls.__dict__:
                setattr(cls, name, _traced(name, cls.__dict__[name]))

    def wire_id(self, collection: str) -> str:
        return self.naming.wire_id(collection)

    @abstractmethod
    def ensure_collection(self, collection: str, description: str = "") -> None: ...

    @abstractmethod
    def collection_exists(self, collection: str) -> bool: ...

    @abstractmethod
    def collections(self) -> list[str]:
        """Wire ids of the collections of this owner (all collections when ids are not prefixed)."""

    def _own(self, wire_ids: Iterable[str]) -> list[str]:
        if not self.naming.prefixed:
            return sorted(wire_ids)
        return sorted(w for w in wire_ids if w.startswith(f"{self.naming.owner}{self.naming.separator}"))

    @abstractmethod
    def upsert_items(self, collection: str, items: Sequence[Item]) -> int:
        """Insert or replace ``items``; returns how many were written. Idempotent."""

    @abstractmethod
    def insert_item(self, collection: str, item: Item) -> None:
        """Insert one new item; ItemExistsError when its id is taken (HTTP 409 semantics)."""

    @abstractmethod
    def existing_ids(self, collection: str, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` exist, in one request per page of ids."""

    @abstractmethod
    def expired_ids(self, collection: str, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` staging treats as not staged, and publication publishes again: the lifecycle expired
        them (``unpublished``, not superseded by a later step), or they were harvested (``rs:harvested``: their
        assets are at the station)."""

    @abstractmethod
    def item_url(self, collection: str, item_id: str) -> str:
        """Where the item can be read (what ``self`` and ``derived_from`` links point at)."""

    @abstractmethod
    def get_item(self, collection: str, item_id: str) -> Item | None: ...

    @abstractmethod
    def delete_item(self, collection: str, item_id: str) -> bool:
        """True when an item was deleted, False when it was not there."""

    @abstractmethod
    def search(
        self,
        collections: Sequence[str],
        *,
        filter: dict[str, Any] | None = None,
        sortby: Sequence[dict[str, str]] | None = None,
        limit: int | None = None,
    ) -> list[Item]:
        """Items of ``collections`` matching a CQL2-JSON ``filter``, sorted like STAC API ``sortby``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; backends that hold none need not override it."""

    def _stamp(self, collection: str, items: Sequence[Item]) -> list[Item]:
        wire = self.wire_id(collection)
        return [{**item, "collection": wire} for item in items]
