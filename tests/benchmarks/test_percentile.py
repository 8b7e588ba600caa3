"""The anonymised percentile: shown only from 10 peers, and moved by a single peer only
by the side of the account's value it lies on. Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.benchmarks.models import Standing
from benefitgate.benchmarks.percentile import MIN_PEERS, percentile


def standing(mine: float, peers: list[float]) -> Standing:
    below = sum(p < mine for p in peers)
    equal = sum(p == mine for p in peers)
    return Standing("m", len(peers), below, equal)


def test_nothing_is_shown_below_the_threshold_and_something_at_exactly_it() -> None:
    assert MIN_PEERS == 10
    assert percentile(standing(55, [10.0 * n for n in range(1, 10)])) is None  # 9 peers
    assert percentile(standing(55, [10.0 * n for n in range(1, 11)])) == 50  # 10 peers
    assert percentile(standing(0, [])) is None


def test_ties_count_half_and_a_decreasing_outcome_counts_the_peers_above() -> None:
    peers = [1.0] * 4 + [5.0] * 4 + [9.0] * 2
    assert percentile(standing(5, peers)) == 60  # (4 + 4 / 2) / 10
    assert percentile(standing(5, peers), "decrease") == 40  # (2 + 4 / 2) / 10
    assert percentile(standing(100, peers)) == 100
    assert percentile(standing(0, peers)) == 0
    assert percentile(standing(5, [5.0] * 12)) == 50  # everyone alike: the middle


values = st.floats(0, 1e9, allow_nan=False)


@given(values, st.lists(values, min_size=MIN_PEERS, max_size=40), st.data())
def test_one_peer_moves_the_answer_only_by_its_side_and_by_at_most_one_step(
    mine: float, peers: list[float], data: st.DataObject
) -> None:
    shown = percentile(standing(mine, peers))
    assert shown is not None and shown % 10 == 0 and 0 <= shown <= 100
    i = data.draw(st.integers(0, len(peers) - 1))
    other = data.draw(values)
    changed = percentile(standing(mine, [*peers[:i], other, *peers[i + 1 :]]))
    assert changed is not None

    def side(v: float) -> int:
        return (v > mine) - (v < mine)

    if side(other) == side(peers[i]):
        assert changed == shown  # its value within its side is not derivable
    else:
        assert abs(changed - shown) <= 10
