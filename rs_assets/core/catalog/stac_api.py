"""A STAC API with the Transactions extension (stac-fastapi-pgstac, the RS catalog) as the catalog.

Writes go through ``bulk_items`` with ``method: upsert`` in pages, serialised per collection, because pgstac
deadlocks on concurrent writers to one collection and one POST per item is ~20x slower.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import urllib3
from pystac_client import Client
from pystac_client.exceptions import APIError
from urllib3.response import BaseHTTPResponse

from ..errors import CatalogError, ItemExistsError
from ..http import HostTrust, HttpError, RetryPolicy, SyncHttp, excerpt
from .base import ID_PAGE, UPSERT_PAGE, Catalog, Item, OwnerNamespace, new_collection, pages

_writers: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

# pgstac requires a geometry; sessions and AUX files have none. They are stored with the whole globe and a
# marker, and read back with ``geometry: null`` so both backends honour the same contract.
_NO_GEOMETRY = "rs:geometry_unknown"
_GLOBE = {
    "type": "Polygon",
    "coordinates": [[[-180.0, -90.0], [180.0, -90.0], [180.0, 90.0], [-180.0, 90.0], [-180.0, -90.0]]],
}


def _to_wire(item: Item) -> Item:
    if item.get("geometry") is not None:
        return item
    return {
        **item,
        "geometry": _GLOBE,
        "bbox": [-180.0, -90.0, 180.0, 90.0],
        "properties": {**item.get("properties", {}), _NO_GEOMETRY: True},
    }


def _from_wire(item: Item) -> Item:
    properties = item.get("properties", {})
    if not properties.get(_NO_GEOMETRY):
        return item
    restored = {
        **item,
        "geometry": None,
        "properties": {k: v for k, v in properties.items() if k != _NO_GEOMETRY},
    }
    restored.pop("bbox", None)
    return restored


class StacApiCatalog(Catalog):
    def __init__(
        self,
        url: str,
        naming: OwnerNamespace | None = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
    ):
        super().__init__(naming or OwnerNamespace())
        self.url = url.rstrip("/")
        self._headers = dict(headers or {})
        self._pool = urllib3.PoolManager(maxsize=8, retries=False, timeout=urllib3.Timeout(10, timeout))
        self._http = SyncHttp(self._pool, retry or RetryPolicy(attempts=4), trust=HostTrust(self.url))

    def close(self) -> None:
        self._pool.clear()

    def _collection_url(self, collection: str) -> str:
        return f"{self.url}/collections/{quote(self.wire_id(collection), safe=':')}"

    def _request(self, method: str, url: str, what: str, json_body: Any = None) -> BaseHTTPResponse:
        headers = {"Accept": "application/json", **self._headers}
        body = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(json_body).encode()
        try:
            return self._http.request(method, url, what=what, headers=headers, body=body)
        except HttpError as exc:
            raise CatalogError(f"catalog {self.url}: {exc}") from None

    def _fail(self, response: BaseHTTPResponse, what: str) -> CatalogError:
        return CatalogError(f"catalog {self.url}: {what}: HTTP {response.status}: {excerpt(response)}")

    def collection_exists(self, collection: str) -> bool:
        response = self._request("GET", self._collection_url(collection), f"get collection {collection}")
        if response.status == 404:
            return False
        if response.status != 200:
            raise self._fail(response, f"get collection {self.wire_id(collection)}")
        return True

    def collections(self) -> list[str]:
        found: list[str] = []
        url: str | None = f"{self.url}/collections?limit=1000"
        while url:
            response = self._request("GET", url, "list collections")
            if response.status != 200:
                raise self._fail(response, "list collections")
            body = response.json()
            found += [c["id"] for c in body.get("collections", [])]
            url = next((link["href"] for link in body.get("links", []) if link.get("rel") == "next"), None)
        return self._own(found)

    def ensure_collection(self, collection: str, description: str = "") -> None:
        if self.collection_exists(collection):
            return
        wire = self.wire_id(collection)
        body = new_collection(wire, description)
        response = self._request(
            "POST", f"{self.url}/collections", f"create collection {wire}", json_body=body
        )
        if response.status not in (200, 201, 409):
            raise self._fail(response, f"create collection {wire}")

    def upsert_items(self, collection: str, items: Sequence[Item]) -> int:
        wire = self.wire_id(collection)
        stamped = [_to_wire(item) for item in self._stamp(collection, items)]
        with _writers[f"{self.url}|{wire}"]:
            for page in pages(stamped, UPSERT_PAGE):
                body = {"items": {item["id"]: item for item in page}, "method": "upsert"}
                response = self._request(
                    "POST",
                    f"{self._collection_url(collection)}/bulk_items",
                    f"bulk upsert into {wire}",
                    json_body=body,
                )
                if response.status not in (200, 201):
                    raise self._fail(response, f"bulk upsert of {len(page)} items into {wire}")
                # bulk_items answers 200 even when some items were refused: they are listed in "errors".
                report = response.json() if response.data else {}
                errors = report.get("errors") if isinstance(report, dict) else None
                if errors:
                    listed = "; ".join(f"{e.get('id')}: {e.get('msg')}" for e in errors[:5])
                    raise CatalogError(
                        f"catalog {self.url}: bulk upsert into {wire} refused {len(errors)} of {len(page)} items: {listed}"
                    )
        return len(stamped)

    def insert_item(self, collection: str, item: Item) -> None:
        wire = self.wire_id(collection)
        response = self._request(
            "POST",
            f"{self._collection_url(collection)}/items",
            f"insert {item['id']}",
            json_body=_to_wire(self._stamp(collection, [item])[0]),
        )
        if response.status == 409:
            raise ItemExistsError(f"item {item['id']!r} already exists in collection {wire!r}")
        if response.status not in (200, 201):
            raise self._fail(response, f"insert item {item['id']} into {wire}")

    def existing_ids(self, collection: str, ids: Iterable[str]) -> set[str]:
        wire = self.wire_id(collection)
        found: set[str] = set()
        for page in pages(list(dict.fromkeys(ids)), ID_PAGE):
            body = {
                "collections": [wire],
                "ids": list(page),
                "limit": len(page),
                "fields": {
                    "include": ["id"],
                    "exclude": ["assets", "links", "geometry", "bbox", "properties"],
                },
            }
            response = self._request(
                "POST", f"{self.url}/search", f"look up {len(page)} ids in {wire}", json_body=body
            )
            if response.status != 200:
                raise self._fail(response, f"look up ids in {wire}")
            found.update(feature["id"] for feature in response.json().get("features", []))
        return found

    def expired_ids(self, collection: str, ids: Iterable[str]) -> set[str]:
        wire = self.wire_id(collection)
        found: set[str] = set()
        expired = {
            "op": "or",
            "args": [
                {
                    "op": "and",
                    "args": [
                        {"op": "not", "args": [{"op": "isNull", "args": [{"property": "unpublished"}]}]},
                        {"op": "isNull", "args": [{"property": "rs:superseded_by"}]},
                    ],
                },
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "rs:harvested"}]}]},
            ],
        }
        for page in pages(list(dict.fromkeys(ids)), ID_PAGE):
            body = {
                "collections": [wire],
                "ids": list(page),
                "limit": len(page),
                "filter": expired,
                "filter-lang": "cql2-json",
                "fields": {"include": ["id"], "exclude": ["assets", "links", "geometry", "bbox"]},
            }
            response = self._request(
                "POST", f"{self.url}/search", f"look up expired ids in {wire}", json_body=body
            )
            if response.status != 200:
                raise self._fail(response, f"look up expired ids in {wire}")
            found.update(feature["id"] for feature in response.json().get("features", []))
        return found

    def item_url(self, collection: str, item_id: str) -> str:
        return f"{self._collection_url(collection)}/items/{quote(item_id, safe='')}"

    def get_item(self, collection: str, item_id: str) -> Item | None:
        url = self.item_url(collection, item_id)
        response = self._request("GET", url, f"get item {item_id}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise self._fail(response, f"get item {item_id} of {self.wire_id(collection)}")
        return _from_wire(response.json())

    def delete_item(self, collection: str, item_id: str) -> bool:
        url = self.item_url(collection, item_id)
        response = self._request("DELETE", url, f"delete item {item_id}")
        if response.status == 404:
            return False
        if response.status not in (200, 204):
            raise self._fail(response, f"delete item {item_id} of {self.wire_id(collection)}")
        return True

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
            client = Client.open(self.url, headers=self._headers)
            # stac-fastapi-pgstac declares sort as v1.1.0, which pystac-client does not recognise.
            client.add_conforms_to("SORT")
            search = client.search(
                collections=wires,
                filter=filter,
                filter_lang="cql2-json" if filter else None,
                sortby=list(sortby) if sortby else None,
                max_items=limit,
                limit=min(limit or 500, 500),
            )
            return [_from_wire(item) for item in search.items_as_dicts()]
        except APIError as exc:
            raise CatalogError(f"catalog {self.url}: search in {', '.join(wires)} failed: {exc}") from None
