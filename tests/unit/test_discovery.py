from datetime import UTC, datetime, timedelta

from rs_assets.core.station.cursor import Published, Watermark, batch_new

T0 = datetime(2026, 11, 20, tzinfo=UTC)
OVERLAP = timedelta(minutes=10)


def found(*specs: tuple[str, int, str]) -> list[tuple[Published, str]]:
    return [(Published(i, T0 + timedelta(minutes=m)), group) for i, m, group in specs]


def test_groups_earliest_first_and_the_cap_leaves_the_rest_for_the_next_tick() -> None:
    items = found(("a", 0, "s1"), ("b", 1, "s1"), ("c", 30, "s2"), ("d", 60, "s3"))
    groups, mark = batch_new(Watermark(), items, OVERLAP, max_groups=2)
    assert {g: [p.id for p in ps] for g, ps in groups.items()} == {"s1": ["a", "b"], "s2": ["c"]}
    assert mark.high == T0 + timedelta(minutes=30)
    rest, mark = batch_new(mark, items, OVERLAP, max_groups=2)
    assert list(rest) == ["s3"] and mark.high == T0 + timedelta(minutes=60)
    again, _ = batch_new(mark, items, OVERLAP, max_groups=2)
    assert again == {}


def test_late_arrivals_inside_the_overlap_are_seen_once() -> None:
    groups, mark = batch_new(Watermark(), found(("a", 50, "s1")), OVERLAP, 5)
    late = found(("a", 50, "s1"), ("b", 45, "s1"))  # published earlier than the mark, but within the overlap
    groups, mark = batch_new(mark, late, OVERLAP, 5)
    assert [p.id for p in groups["s1"]] == ["b"]
    assert batch_new(mark, late, OVERLAP, 5)[0] == {}


def test_cursor_round_trips() -> None:
    mark = Watermark(T0, frozenset({"x", "y"}))
    assert Watermark.from_json(mark.to_json()) == mark
    assert Watermark.from_json(None) == Watermark()
