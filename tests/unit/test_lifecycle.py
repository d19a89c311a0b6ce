from datetime import UTC, datetime, timedelta

from rs_assets.core.catalog.mapping import tombstone, usable
from rs_assets.core.lifecycle.expiry import expire, expired_filter, select_expired
from rs_assets.core.lifecycle.objects import item_objects
from rs_assets.core.lifecycle.sweep import References, s3_hrefs

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def item(item_id: str, expires: object, *hrefs: str, **properties: object) -> dict:
    return {
        "id": item_id,
        "properties": {"expires": expires, **properties},
        "assets": {h.rsplit("/", 1)[-1] or "dir": {"href": h, "file:size": 10} for h in hrefs},
        "links": [{"rel": "derived_from", "href": "u"}, {"rel": "alternate", "href": "s3://data/x"}],
    }


def test_only_items_past_their_expiry_and_inside_our_buckets_are_chosen() -> None:
    chosen, problems = select_expired(
        [
            item("old", "2026-11-30T00:00:00.000Z", "s3://data/o/c/old/a", "s3://data/o/c/old/dir/"),
            item("young", "2026-12-02T00:00:00.000Z", "s3://data/o/c/young/a"),
            item("done", "2026-11-30T00:00:00.000Z", unpublished="2026-11-30T01:00:00.000Z"),
            item("garbled", "soon", "s3://data/o/c/garbled/a"),
            item("foreign", "2026-11-30T00:00:00.000Z", "s3://data/o/c/f/a", "s3://elsewhere/f/b"),
            item("harvested", "2026-11-30T00:00:00.000Z", "https://station/odata/v1/Products(1)/$value"),
        ],
        NOW,
        {"data"},
    )
    assert [(i["id"], e.objects, e.bytes) for i, e in chosen] == [
        ("old", (("data", "o/c/old/a"), ("data", "o/c/old/dir/")), 20),
        ("harvested", (), 10),
    ]
    assert [p.split(":")[0] for p in problems] == ["garbled", "foreign"]
    assert "s3://elsewhere/f/b" in problems[1] and "outside the configured buckets" in problems[1]


def test_an_expired_item_keeps_its_lineage_and_loses_its_data() -> None:
    expired = expire(item("old", "2026-11-30T00:00:00.000Z", "s3://data/o/c/old/a"), NOW)
    assert expired["assets"] == {}
    assert expired["links"] == [{"rel": "derived_from", "href": "u"}]
    assert (
        expired["properties"]["unpublished"] == expired["properties"]["updated"] == "2026-12-01T12:00:00.000Z"
    )
    assert expired_filter(NOW)["args"][0]["args"][1] == "2026-12-01T12:00:00.000Z"


def test_a_key_is_named_by_its_own_href_or_by_a_directory_or_store_above_it() -> None:
    named = References()
    named.add_all(
        {
            "file": {"href": "s3://data/o/c/a/file.bin"},
            "safe": {"href": "s3://data/o/c/b/X.SAFE/"},
            "store": {"href": "s3://data/o/z/Y.zarr", "alternate": {"s3": {"href": "s3://data/o/alt/k"}}},
            "station": {"href": "https://station/odata/v1/Products(1)/$value"},
        }
    )
    assert named.names("data", "o/c/a/file.bin")
    assert named.names("data", "o/c/b/X.SAFE/measurement/s1.tiff")
    assert named.names("data", "o/z/Y.zarr/measurements/grd/c/0/0")
    assert named.names("data", "o/alt/k"), "alternate hrefs name their objects too"
    assert not named.names("data", "o/z/Y.zarr2/zarr.json"), "a sibling sharing a name prefix is not named"
    assert not named.names("data", "o/c/a/file.bin.md5")
    assert not named.names("other", "o/c/a/file.bin"), "the bucket is part of the name"
    assert not named.names("data", "o/c/b/X.SAFE"), "a directory href names what is under it"


def test_every_s3_href_of_a_json_document_is_found_wherever_it_sits() -> None:
    document = [{"a": "s3://b/k1", "b": [1, None, {"c": "s3://b/k2"}]}, "http://x/s3://no", "s3://b/k3"]
    assert list(s3_hrefs(document)) == ["s3://b/k1", "s3://b/k2", "s3://b/k3"]


def test_an_items_objects_are_those_in_our_buckets_and_the_rest_is_named() -> None:
    objects, outside = item_objects(
        item(
            "x", None, "s3://data/o/c/x/a", "s3://data/o/c/x/dir/", "s3://elsewhere/x/b", "https://station/x"
        ),
        {"data"},
    )
    assert objects == [("data", "o/c/x/a"), ("data", "o/c/x/dir/")]
    assert outside == ["b at s3://elsewhere/x/b"]


def test_a_superseded_item_is_never_used_again_whether_or_not_it_keeps_its_objects() -> None:
    staged = item("s", "2027-01-01T00:00:00.000Z", "s3://data/o/c/s/X.SAFE/")
    assert usable(staged)
    gone = tombstone(staged, NOW, "https://catalog/items/z")
    assert gone["assets"] == {} and gone["properties"]["unpublished"] == "2026-12-01T12:00:00.000Z"
    kept = tombstone(staged, NOW, "https://catalog/items/z", keep_until=NOW + timedelta(days=2))
    assert kept["assets"] == staged["assets"] and "unpublished" not in kept["properties"]
    assert kept["properties"]["expires"] == "2026-12-03T12:00:00.000Z"
    assert kept["properties"]["rs:superseded_by"] == "https://catalog/items/z"
    assert not usable(gone) and not usable(kept)
    assert select_expired([kept], NOW + timedelta(days=3), {"data"})[0], "expiry takes the kept objects then"
