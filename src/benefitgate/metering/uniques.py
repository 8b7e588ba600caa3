"""Unique counts: the value of its property that a `unique_count` metric counts an event by.

The counter of such a metric is the number of distinct values of the property among the
period's events, kept exact by one row per distinct value (`repository.record_events`):
a value seen before, in any batch, adds nothing, and neither does a duplicate event id,
which never reaches the counters.
"""

from __future__ import annotations

from benefitgate.catalog.models import Metric
from benefitgate.metering.groups import MAX_DIMENSION, InvalidDimension, property_text
from benefitgate.metering.models import UsageEvent

__all__ = ["MAX_UNIQUE_VALUE", "InvalidProperty", "unique_of"]

MAX_UNIQUE_VALUE = MAX_DIMENSION  # characters: values are kept in a unique index


class InvalidProperty(ValueError):
    pass


def unique_of(event: UsageEvent, metric: Metric) -> str | None:
    """The text of the event's value of the metric's unique property (a number or a
    boolean as its JSON text); None for a metric of another aggregation. Raises
    InvalidProperty when the property is missing or null, an object or an array, or
    longer than MAX_UNIQUE_VALUE characters."""
    if metric.unique_property is None:
        return None
    try:
        text = property_text((event.properties or {}).get(metric.unique_property))
    except InvalidDimension as error:
        raise InvalidProperty(str(error)) from None
    if text is None or not 0 < len(text) <= MAX_UNIQUE_VALUE:
        raise InvalidProperty(f"give the property, of 1 to {MAX_UNIQUE_VALUE} characters")
    return text
