from datetime import UTC, datetime

from rs_assets.core.lifecycle.expiry import expire, expired_filter, select_expired

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
