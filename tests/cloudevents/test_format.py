"""Reading CloudEvents into usage events: any JSON at all gets an event or a typed
refusal, never an exception. (What the endpoint costs in statements is counted with
usageRecord's, in tests/metering/test_statement_count.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.catalog.models import Metric
from benefitgate.cloudevents.format import Refused, event_of, is_json_media_type
from benefitgate.cloudevents.results import MESSAGES
from benefitgate.metering.models import Rejection, UsageEvent
from tests.fixtures.cloudevents_api import cloud_event

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
METRICS = {
    "m0": Metric("m0", "M0", "calls", "sum", "billing_period"),
    "c": Metric("c", "C", "calls", "count", "never"),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
attributes = st.sampled_from(
    ["specversion", "id", "source", "type", "subject", "time", "data", "datacontenttype"]
)
# Mostly well-formed events with one attribute replaced by any JSON value, or left out.
events = st.builds(
    lambda base, name, value, drop: (
        {k: v for k, v in base.items() if k != name} if drop else {**base, name: value}
    ),
    st.just(cloud_event("cus_1", "e1", type="m0", at=NOW)),
    attributes,
    json_values,
    st.booleans(),
)


@given(st.one_of(json_values, events))
def test_any_json_is_an_event_or_a_typed_refusal(raw: Any) -> None:
    read = event_of(raw, METRICS, NOW)
    assert isinstance(read, UsageEvent | Refused)
    if isinstance(read, UsageEvent):
        assert read.occurred_at.tzinfo is not None
        assert read.event_id and read.source and read.subject


def test_json_media_types_are_json_and_plus_json_subtypes() -> None:
    for yes in ["application/json", "text/json; charset=utf-8", "application/vnd.a+json"]:
        assert is_json_media_type(yes)
    for no in ["application/xml", "text/plain", "json", "application/jsonx"]:
        assert not is_json_media_type(no)


def test_every_rejection_of_the_ingest_service_has_a_message() -> None:
    format_only = {Rejection.INVALID_EVENT, Rejection.INVALID_VALUE}  # their own messages
    assert set(MESSAGES) == set(Rejection) - format_only


def test_a_numeric_string_is_read_only_in_json_number_syntax() -> None:
    def value_of(text: str) -> float | str:
        read = event_of(cloud_event("cus_1", "e1", text, type="m0", at=NOW), METRICS, NOW)
        return read.value if isinstance(read, UsageEvent) else read.reason.name

    for text, value in [("12", 12), ("-2.5", -2.5), ("1e3", 1000), ("0", 0), ("-0", 0)]:
        assert value_of(text) == value
    assert value_of("1e400") == float("inf")  # a number, which ingest refuses as out of range
    # float() read each of these as a number: "١٢" (Arabic-Indic digits) as 12.
    for text in ["1_000", " 5 ", "\u0661\u0662", "nan", "inf", "+5", "0x10", ".5", "5.", ""]:
        assert value_of(text) == "INVALID_VALUE", text
