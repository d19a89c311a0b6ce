from datetime import UTC, datetime, timedelta

import pytest

from rs_assets.core.catalog.mapping import CollectionNames
from rs_assets.core.errors import RsAssetsError
from rs_assets.core.services import Placement
from rs_assets.core.staging.sessions import (
    completeness,
    earliest_eviction,
    eviction_at_risk,
    merged_session_item,
    plan_session,
    unpublished_files,
)
from rs_assets.core.station.models import File, Session
from rs_assets.core.storage.bucket_rules import BucketRules

SESSION_ID = "S1A_20241114143038056552"
NOW = datetime(2024, 11, 14, 15, 0, tzinfo=UTC)


def session(channels: int = 2, total_chunks: dict[int, int] | None = None) -> Session:
    return Session.model_validate(
        {
            "Id": "s1",
            "SessionId": SESSION_ID,
            "NumChannels": channels,
            "Satellite": "S1A",
            "QualityInfo": [{"Channel": c, "TotalChunks": n} for c, n in (total_chunks or {}).items()],
        }
    )


def file(channel: int, block: int, final: bool = False, evicted_in_days: float = 7) -> File:
    return File.model_validate(
        {
            "Id": f"f{channel}-{block}",
            "Name": f"DCS_04_{SESSION_ID}_ch{channel}_DSDB_{block:05d}.raw",
            "SessionId": SESSION_ID,
            "Channel": channel,
            "BlockNumber": block,
            "FinalBlock": final,
            "Size": 100,
            "EvictionDate": (NOW + timedelta(days=evicted_in_days)).isoformat(),
        }
    )


def test_complete_when_every_channel_has_its_final_block_and_no_gap() -> None:
    files = [file(1, 1), file(1, 2, True), file(2, 1), file(2, 2), file(2, 3, True)]
    state = completeness(session(), files)
    assert state.complete
    assert [c.summary for c in state.channels] == ["complete (2 blocks)", "complete (3 blocks)"]


@pytest.mark.parametrize(
    ("files", "summary"),
    [
        ([file(1, 1), file(1, 2)], "2 blocks; final block not yet published"),
        ([file(1, 1), file(1, 3, True)], "2 blocks; missing 2"),
        ([], "0 blocks; final block not yet published"),
    ],
)
def test_partial_channels_say_why(files: list[File], summary: str) -> None:
    state = completeness(session(channels=1), files)
    assert not state.complete
    assert state.channels[0].summary == summary


def test_retransferred_copies_of_a_block_count_once() -> None:
    copy = file(1, 2, True).model_copy(
        update={"Id": "again", "Name": "retransferred-2.raw", "Retransfer": True}
    )
    files = [file(1, 1), file(1, 2, True), copy, file(1, 1).model_copy(update={"Id": "again-1"})]
    state = completeness(session(channels=1, total_chunks={1: 2}), files)
    assert state.complete, "two distinct blocks are what the station expects"
    assert state.channels[0].summary == "complete (2 blocks, 2 retransferred copies)"
    assert state.as_table().splitlines()[-1] == "| 1 | 2 | complete (2 blocks, 2 retransferred copies) |"


def test_total_chunks_from_quality_info_is_cross_checked() -> None:
    files = [file(1, 1), file(1, 2, True)]
    assert not completeness(session(channels=1, total_chunks={1: 3}), files).complete
    assert (
        "station expects 3"
        in completeness(session(channels=1, total_chunks={1: 3}), files).channels[0].summary
    )
    assert completeness(session(channels=1, total_chunks={1: 2}), files).complete


def test_a_channel_without_any_file_keeps_the_session_partial() -> None:
    state = completeness(session(channels=2), [file(1, 1, True)])
    assert not state.complete and "| 2 | 0 |" in state.as_table()


def test_eviction_watch() -> None:
    files = [file(1, 1, evicted_in_days=0.5), file(1, 2, evicted_in_days=3)]
    partial = completeness(session(channels=1), files)
    assert earliest_eviction(files) == NOW + timedelta(days=0.5)
    assert eviction_at_risk(files, partial, NOW, timedelta(days=1))
    assert not eviction_at_risk(files, partial, NOW, timedelta(hours=6))
    done = [file(1, 1, evicted_in_days=0.5), file(1, 2, True, evicted_in_days=3)]
    assert not eviction_at_risk(done, completeness(session(channels=1), done), NOW, timedelta(days=1))


def test_plan_puts_files_under_the_session_item() -> None:
    rules = BucketRules.parse("*,*,*,7,cadu-bucket\n")
    plan = plan_session(
        session(), [file(2, 1), file(1, 1)], Placement("copernicus", CollectionNames(), rules)
    )
    assert plan.collection == "s01-cadip-session" and plan.bucket == "cadu-bucket"
    assert [t.key for t in plan.tasks] == [
        f"copernicus/s01-cadip-session/{SESSION_ID}/DCS_04_{SESSION_ID}_ch1_DSDB_00001.raw",
        f"copernicus/s01-cadip-session/{SESSION_ID}/DCS_04_{SESSION_ID}_ch2_DSDB_00001.raw",
    ]
    assert all(t.source.md5 is None and t.item_id == SESSION_ID for t in plan.tasks)


def test_plan_refuses_files_of_another_session() -> None:
    stray = file(1, 1).model_copy(update={"SessionId": "S1A_other"})
    with pytest.raises(RsAssetsError, match="files of another session"):
        plan_session(
            session(), [stray], Placement("copernicus", CollectionNames(), BucketRules.parse("*,*,*,7,b-1\n"))
        )


def test_a_file_is_unpublished_when_the_item_lacks_it_or_points_elsewhere() -> None:
    recorded = {
        "assets": {"a": {"href": "s3://b/k/a"}, "b": {"href": "s3://b/k/b"}, "c": {"href": "s3://b/k/c"}}
    }
    published = {"assets": {"a": {"href": "s3://b/k/a"}, "b": {"href": "s3://other/k/b"}}}
    assert unpublished_files(recorded, published) == ["b", "c"]
    assert unpublished_files(recorded, None) == ["a", "b", "c"]
    assert unpublished_files(recorded, recorded) == []


def test_a_session_staged_again_after_expiry_is_live_again() -> None:
    expired = {"id": "S", "properties": {"unpublished": "2026-11-30T00:00:00.000Z", "x": 1}, "assets": {}}
    fresh = {"id": "S", "properties": {"y": 2}, "assets": {"f": {"href": "s3://b/k/f"}}}
    merged = merged_session_item(expired, fresh)
    assert merged["properties"] == {"x": 1, "y": 2} and list(merged["assets"]) == ["f"]
    assert merged_session_item(expired, {**fresh, "assets": {}})["properties"]["unpublished"]
