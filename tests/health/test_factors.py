"""The health factors and score as documented in `health/factors.py`, and the cursors of
accounts at risk: pure, no database."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.health.factors import WEIGHTS, health_of
from benefitgate.health.models import Signals, TargetPace
from benefitgate.health.ranking import Position, decode_position, encode_position

ID = UUID(int=1)


def _scores(s: Signals) -> dict[str, int]:
    return {f.key: f.score for f in health_of(ID, s).factors}


def test_usage_trend_is_the_mean_of_each_metrics_last_month_over_the_one_before() -> None:
    falling = Signals(usage={"a": (100, 50), "b": (10, 20), "new": (0, 5), "idle": (0, 0)})
    assert _scores(falling)["usage_trend"] == round(100 * (0.5 + 1 + 1) / 3)
    assert _scores(Signals())["usage_trend"] == 0  # no usage at all in 60 days
    detail = health_of(ID, falling).factors
    assert any("usage fell over the last 30 days: a" in f.detail for f in detail)


def test_target_pace_compares_attainment_with_the_share_of_the_targets_days_gone() -> None:
    behind = Signals(targets=[TargetPace("nps", 25, 0.5), TargetPace("hours", 90, 0.3)])
    assert _scores(behind)["target_pace"] == 75  # (0.5 + 1) / 2
    assert "target_pace" not in _scores(Signals())


def test_adoption_seats_denials_and_cancellation_score_as_documented() -> None:
    s = Signals(
        usage={"a": (1, 1)},
        benefits_measured=4,
        benefits_unused=1,
        seats_held=2,
        seats_purchased=10,
        denied_features=3,
        cancel_scheduled=True,
    )
    assert _scores(s) == {
        "usage_trend": 100,
        "benefit_adoption": 75,
        "seat_use": 25,  # 2 of 10 against 80 %
        "denials": 40,
        "cancellation": 0,
    }
    assert _scores(Signals(seats_held=9, seats_purchased=10, denied_features=9))["seat_use"] == 100
    assert _scores(Signals(denied_features=9))["denials"] == 0
    assert "cancellation" not in _scores(Signals()) and "seat_use" not in _scores(Signals())


def test_the_score_is_the_weighted_mean_and_reasons_are_the_factors_below_60() -> None:
    s = Signals(usage={"a": (100, 50)}, seats_held=2, seats_purchased=10, denied_features=3)
    health = health_of(ID, s)
    weighted = 30 * 50 + 15 * 25 + 10 * 40
    assert health.score == round(weighted / (30 + 15 + 10))
    assert [f.key for f in health.factors] == ["usage_trend", "seat_use", "denials"]
    assert [f.key for f in health.reasons] == ["usage_trend", "seat_use", "denials"]
    assert all(f.weight == WEIGHTS[f.key] for f in health.factors)


signals = st.builds(
    Signals,
    usage=st.dictionaries(
        st.text(min_size=1, max_size=3),
        st.tuples(st.floats(0, 1e6), st.floats(0, 1e6)),
        max_size=4,
    ),
    targets=st.lists(
        st.builds(TargetPace, st.just("o"), st.floats(0, 500), st.floats(0.01, 1)), max_size=3
    ),
    benefits_measured=st.integers(0, 20),
    seats_held=st.integers(0, 50),
    seats_purchased=st.integers(0, 50),
    denied_features=st.integers(0, 10),
    cancel_scheduled=st.booleans(),
)


@given(signals)
def test_every_score_is_between_0_and_100(s: Signals) -> None:
    health = health_of(ID, s)
    assert 0 <= health.score <= 100
    assert all(0 <= f.score <= 100 for f in health.factors)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.dates(),
    st.integers(0, 366),
    st.none() | st.uuids(),
    st.integers(-1, 100),
    st.uuids(),
)
def test_a_cursor_names_the_walks_instant_day_window_caller_and_position_exactly(
    as_of: datetime, day: date, within: int, partner: UUID | None, score: int, account_id: UUID
) -> None:
    p = Position(as_of.replace(tzinfo=UTC), day, within, partner, score, account_id)
    decoded = decode_position(encode_position(p))
    assert decoded == p if score >= 0 else decoded is None


def test_a_cursor_the_api_did_not_make_is_refused() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    made = encode_position(Position(at, date(2026, 1, 1), 30, None, 5, ID))
    forged = [
        f"risk|{micros}|2026-01-01|{within}|-|{score}|{ID}"
        for micros, within, score in [
            ("\uff11\uff17", "30", "5"),  # digits str.isdigit takes but a cursor never holds
            ("1", "\uff13\uff10", "5"),
            ("1", "30", "²"),
            ("1", "30", "101"),
            ("1", "30", "-1"),
            ("9" * 40, "30", "5"),
        ]
    ]
    raws = [base64.urlsafe_b64encode(f.encode()).decode() for f in forged]
    for raw in ("", "nonsense", made.upper(), "cmlzazoxMDE6eA==", made[:-4], *raws):
        assert decode_position(raw) is None
