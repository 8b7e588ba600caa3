"""The percentile an account is shown among its peers, and when it is shown at all. Pure.

k-anonymity: nothing is shown unless at least MIN_PEERS other accounts are on the same
tier. What is shown is only the share of peers the account does better than (a tie counts
half), rounded down to a multiple of 10: never a count, a value, a peer, or a statistic of
peers such as a median or a maximum, which would be one account's own value. A single
peer's value moves the answer only by which side of the account's value it lies on, and
then by at most one step of 10.
"""

from __future__ import annotations

from benefitgate.benchmarks.models import Standing

__all__ = ["MIN_PEERS", "STEP", "percentile"]

MIN_PEERS = 10
STEP = 10


def percentile(standing: Standing, direction: str = "increase") -> int | None:
    """The account's percentile (0, 10 ... 90, 100) among its peers; None below MIN_PEERS.
    For an outcome that should decrease, peers with a higher value are the ones it beats."""
    if standing.peers < MIN_PEERS:
        return None
    beaten = standing.below
    if direction == "decrease":
        beaten = standing.peers - standing.below - standing.equal
    share = (beaten + standing.equal / 2) / standing.peers
    return int(share * 100 // STEP * STEP)
