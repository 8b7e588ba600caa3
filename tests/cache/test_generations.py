"""The generation check: a response may be stored only if no tag it read was invalidated
after its request began, however the invalidations interleave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.cache.generations import Generations

TAGS = ["a", "b", "c", "d"]

# Each step either begins a request (reading some tags) or invalidates some tags.
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("begin"), st.frozensets(st.sampled_from(TAGS), min_size=1)),
        st.tuples(st.just("invalidate"), st.frozensets(st.sampled_from(TAGS), min_size=1)),
        st.tuples(st.just("all"), st.just(frozenset[str]())),
    ),
    max_size=60,
)


@given(steps=_STEPS, remember=st.integers(1, 5))
def test_a_request_may_store_exactly_when_nothing_it_read_changed_since_it_began(
    steps: list[tuple[str, frozenset[str]]], remember: int
) -> None:
    generations = Generations(remember=remember)
    requests: list[tuple[int, frozenset[str], int]] = []  # begun, tags, step index
    changes: list[tuple[int, frozenset[str] | None]] = []  # step index, tags (None: all)
    for index, (kind, tags) in enumerate(steps):
        if kind == "begin":
            requests.append((generations.begin(), tags, index))
        elif kind == "invalidate":
            generations.invalidate(tags)
            changes.append((index, tags))
        else:
            generations.invalidate_all()
            changes.append((index, None))
    for begun, tags, at in requests:
        changed = any(i > at and (t is None or t & tags) for i, t in changes)
        allowed = generations.unchanged_since(begun, tags)
        if changed:
            assert not allowed  # never a stale store
        elif remember >= len(TAGS):
            assert allowed  # and with room for every tag, no needless refusal
