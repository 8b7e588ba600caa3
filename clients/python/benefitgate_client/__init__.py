"""A Python client of Benefitgate, on `gql`: documents validated against the service's
committed schema before they are sent, a mutation retried safely with its idempotency key,
and the account's events followed from the last cursor across drops."""

from benefitgate_client.client import Benefitgate, StreamRefused

__all__ = ["Benefitgate", "StreamRefused"]
