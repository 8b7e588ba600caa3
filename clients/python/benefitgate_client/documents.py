"""The operations the client sends; `Benefitgate` parses each once and, given the schema,
validates it before it leaves the process."""

from __future__ import annotations

__all__ = ["ACCOUNT_EVENTS", "ACCOUNT_USAGE", "USAGE_CONSUME"]

ACCOUNT_USAGE = """
query AccountUsage($id: ID!) {
  account(id: $id) {
    __typename
    ... on Account {
      id
      name
      tier { key name }
      usage { metric { key unit } used limit remaining enforcement }
    }
    ... on Error { code message }
  }
}
"""

USAGE_CONSUME = """
mutation UsageConsume($id: ID!, $metric: String!, $amount: Float!, $idempotencyKey: String!) {
  usageConsume(accountId: $id, metric: $metric, amount: $amount,
               idempotencyKey: $idempotencyKey) {
    __typename
    ... on UsageConsumed { used limit remaining replayed }
    ... on QuotaExceeded { quotaLimit: limit quotaUsed: used requested replayed }
    ... on Error { code message }
  }
}
"""

ACCOUNT_EVENTS = """
subscription AccountEvents($ids: [ID!], $after: String) {
  events(accountIds: $ids, after: $after) {
    __typename
    ... on Event { id cursor type accountId payload createdAt }
    ... on StreamClosedError { retryable resumeAfter }
    ... on CursorExpiredError { horizon }
    ... on Error { code message }
  }
}
"""
