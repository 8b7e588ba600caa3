"""The in-process tier: bounded in entries and bytes whatever is put, its tag index always
naming exactly the entries filed under each tag."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.cache.local import Entry, LocalTier
from tests.fixtures.factories import NOW

TAGS = [f"account:{n}" for n in range(6)] + ["catalog"]


def _entry(size: int, tags: frozenset[str], until_minutes: int | None = None) -> Entry:
    until = None if until_minutes is None else NOW + timedelta(minutes=until_minutes)
    return Entry(b"x" * size, '"e"', tags, until)


_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.integers(0, 30),  # key
            st.integers(0, 3_000),  # body size
            st.frozensets(st.sampled_from(TAGS), max_size=3),
        ),
        st.tuples(st.just("drop"), st.frozensets(st.sampled_from(TAGS), min_size=1, max_size=2)),
        st.tuples(st.just("get"), st.integers(0, 30)),
    ),
    max_size=120,
)


@given(ops=_OPS, max_entries=st.integers(1, 12), max_bytes=st.integers(500, 20_000))
def test_bounds_and_tag_index_hold_under_any_sequence(
    ops: list[tuple[object, ...]], max_entries: int, max_bytes: int
) -> None:
    tier = LocalTier(max_entries, max_bytes)
    dropped_keys: set[str] = set()
    for op in ops:
        if op[0] == "put":
            _, key, size, tags = op
            assert isinstance(size, int) and isinstance(tags, frozenset)
            tier.put(str(key), _entry(size, tags))
            dropped_keys.discard(str(key))
        elif op[0] == "drop":
            tags = op[1]
            assert isinstance(tags, frozenset)
            before = {k for k, e in tier._entries.items() if e.tags & tags}
            tier.drop_tags(tags)
            assert not any(e.tags & tags for e in tier._entries.values())
            dropped_keys |= before
        else:
            tier.get(str(op[1]), NOW)
        assert len(tier) <= max_entries
        assert tier.bytes <= max_bytes
        assert tier.bytes == sum(e.size for e in tier._entries.values())
        for tag, keys in tier._by_tag.items():
            assert keys and all(tag in tier._entries[k].tags for k in keys)
        for key, entry in tier._entries.items():
            assert all(key in tier._by_tag[t] for t in entry.tags)
    assert not dropped_keys & set(tier._entries)


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    tier = LocalTier(max_entries=2, max_bytes=1_000_000)
    tier.put("a", _entry(10, frozenset({"catalog"})))
    tier.put("b", _entry(10, frozenset({"catalog"})))
    assert tier.get("a", NOW) is not None  # a is now the most recent
    tier.put("c", _entry(10, frozenset({"catalog"})))
    assert tier.get("b", NOW) is None
    assert tier.get("a", NOW) is not None and tier.get("c", NOW) is not None
    assert tier.evictions == 1


def test_an_entry_past_its_instant_is_gone() -> None:
    tier = LocalTier(10, 100_000)
    tier.put("a", _entry(10, frozenset({"catalog"}), until_minutes=5))
    assert tier.get("a", NOW + timedelta(minutes=4, seconds=59)) is not None
    assert tier.get("a", NOW + timedelta(minutes=5)) is None
    assert len(tier) == 0 and tier._by_tag == {}


def test_a_body_larger_than_the_tier_is_not_kept() -> None:
    tier = LocalTier(10, 1_000)
    tier.put("big", _entry(5_000, frozenset({"catalog"})))
    assert len(tier) == 0
