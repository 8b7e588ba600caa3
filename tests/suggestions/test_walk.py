"""A walk through `suggestions` reads the ranking of its first page to its end: while the
suggestion job changes confidences in place (its rounds), suggestions are accepted,
dismissed and withdrawn, and new ones open, between pages of random sizes, it gives every
suggestion open at its first page once, in that page's order (most confident, then the
greater id, first), but those that left the list before their page; none opened since.
Its rounds' rows stay a day; a walk whose ranking was pruned is told to start again."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benefitgate.suggestions import rankings, repository, service
from benefitgate.suggestions.models import Proposal
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.factories import NOW

LIST = """query List($first: Int!, $after: String) { suggestions(first: $first, after: $after) {
  __typename
  ... on SuggestionConnection { edges { cursor rankedConfidence node { id status } }
                                pageInfo { hasNextPage endCursor } }
  ... on Error { code message }
} }"""
DISMISS = """mutation Dismiss($id: ID!, $key: String!) {
  suggestionDismiss(id: $id, reason: "not now", idempotencyKey: $key) { __typename } }"""
ACCEPT = """mutation Accept($id: ID!, $key: String!) {
  suggestionAccept(id: $id, idempotencyKey: $key) { __typename } }"""

CONFIDENCE = st.sampled_from([0.3, 0.5, 0.7, 0.9])  # few values: ties are the rule
# Between two pages: read the next page, or what the job and the customers do meanwhile.
_STEP = st.one_of(
    st.tuples(st.just("page"), st.integers(1, 4)),
    st.tuples(st.just("rescore"), st.integers(0, 20), CONFIDENCE),
    st.tuples(st.sampled_from(["dismiss", "accept", "withdraw"]), st.integers(0, 20)),
    st.tuples(st.just("open"), CONFIDENCE),
)


class Suggestions:
    """Open suggestions of accounts of their own, written as the job writes them (each
    write a round of the ranking) or decided through the API."""

    def __init__(self, conn: asyncpg.Connection, api: Api, auth: str, tiers: dict[str, int]):
        self.conn, self.api, self.auth, self.tiers = conn, api, auth, tiers

    def proposal(self, account: UUID, confidence: float) -> Proposal:
        basic, pro = self.tiers["basic"], self.tiers["pro"]
        return Proposal(account, "pro", pro, basic, (), (), confidence, "USD", 4000, 40000)

    async def open(self, confidence: float) -> UUID:
        account = await factories.account(self.conn, self.tiers["basic"])
        async with self.conn.transaction():
            round_ = await rankings.begin_round(self.conn)
            found = await repository.insert(
                self.conn, self.proposal(account, confidence), NOW, round_
            )
        assert found is not None
        return found.id

    async def rescore(self, suggestion: UUID, confidence: float) -> None:
        account = await self.conn.fetchval(
            "select account_id from suggestions where id = $1", suggestion
        )
        async with self.conn.transaction():
            round_ = await rankings.begin_round(self.conn)
            update = (suggestion, self.proposal(account, confidence))
            await repository.update_open(self.conn, [update], NOW, round_)

    async def withdraw(self, suggestion: UUID) -> None:
        async with self.conn.transaction():
            await rankings.begin_round(self.conn)
            await repository.close(self.conn, suggestion, NOW)

    async def decide(self, kind: str, suggestion: UUID) -> None:
        document = DISMISS if kind == "dismiss" else ACCEPT
        variables = {"id": str(suggestion), "key": str(uuid.uuid4())}
        found = await self.api.data(document, variables, auth=self.auth)
        assert next(iter(found.values()))["__typename"] != "ChangeError", found

    async def page(self, first: int, after: str | None) -> dict[str, Any]:
        found = await self.api.data(LIST, {"first": first, "after": after}, auth=self.auth)
        page: dict[str, Any] = found["suggestions"]
        assert page["__typename"] == "SuggestionConnection", page
        return page

    async def ranked_now(self) -> list[tuple[UUID, float]]:
        """The open suggestions in the product's order, read from their rows."""
        rows = await self.conn.fetch(
            "select id, confidence from suggestions where status = 'open' "
            "order by confidence desc, id desc"
        )
        return [(r["id"], float(r["confidence"])) for r in rows]


async def _suggestions(conn: asyncpg.Connection, api: Api) -> Suggestions:
    """A clean slate of suggestions (hypothesis runs every example on one database)."""
    versions = dict(await conn.fetch("select tier_key, id from tier_versions where version = 1"))
    if not versions:
        versions = (await factories.catalog(conn))["versions"]
    await conn.execute("delete from suggestion_rankings; delete from suggestions")
    return Suggestions(conn, api, await api_key(conn), versions)


def _walked(page: dict[str, Any]) -> list[tuple[UUID, float]]:
    assert all(e["node"]["status"] == "OPEN" for e in page["edges"]), page
    return [(UUID(e["node"]["id"]), e["rankedConfidence"]) for e in page["edges"]]


async def _walk(
    s: Suggestions, before: list[float], first: int, steps: list[tuple[Any, ...]]
) -> None:
    made = [await s.open(confidence) for confidence in before]
    at_start = await s.ranked_now()
    page = await s.page(first, None)
    walked = _walked(page)
    left: set[UUID] = set()
    for kind, *args in [*steps, *([("page", 4)] * 20)]:
        if kind == "page":
            if not page["pageInfo"]["hasNextPage"]:
                break
            page = await s.page(args[0], page["pageInfo"]["endCursor"])
            walked += _walked(page)
        elif kind == "open":
            made.append(await s.open(args[0]))
        elif (target := made[args[0] % len(made)]) in left:
            pass  # what left the list never comes back to it
        elif kind == "rescore":
            await s.rescore(target, args[1])
        else:
            left.add(target)
            await (s.withdraw(target) if kind == "withdraw" else s.decide(kind, target))

    assert not page["pageInfo"]["hasNextPage"]
    ids = [i for i, _ in walked]
    assert len(set(ids)) == len(ids), f"repeated: {walked}"
    # The first page in the product's order; then the ranking it saw, to the end.
    assert walked[:first] == at_start[: len(walked[:first])]
    assert walked == [r for r in at_start if r[0] in set(ids)], (walked, at_start)
    skipped = {i for i, _ in at_start} - set(ids) - left
    assert not skipped, f"skipped: {skipped} of {at_start}, walked {walked}"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(CONFIDENCE, min_size=1, max_size=7),
    first=st.integers(1, 4),
    steps=st.lists(_STEP, max_size=16),
)
# The probe's walk: the first suggestion's confidence falls below the second's after page 1
# (it was given twice), and the last's rises above the cursor (it was missed).
@example(before=[0.9, 0.8, 0.7], first=1, steps=[("rescore", 0, 0.75), ("page", 1)])
@example(before=[0.9, 0.8, 0.7], first=1, steps=[("rescore", 2, 0.95), ("page", 1)])
async def test_a_walk_gives_its_first_pages_ranking_while_suggestions_change(
    conn: asyncpg.Connection,
    api: Api,
    before: list[float],
    first: int,
    steps: list[tuple[Any, ...]],
) -> None:
    await _walk(await _suggestions(conn, api), before, first, steps)


async def test_a_walk_begun_before_its_ranking_was_pruned_is_told_to_start_again(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _suggestions(conn, api)
    top, _ = [await s.open(c) for c in (0.9, 0.5)]
    page = await s.page(1, None)
    await s.rescore(top, 0.3)  # the walk's row of it closes now
    async with conn.transaction():  # a day's rows are kept
        await rankings.prune(conn, NOW - service.WALK_LIFETIME)
    kept = await s.page(1, page["pageInfo"]["endCursor"])
    assert [e["rankedConfidence"] for e in kept["edges"]] == [0.5]

    async with conn.transaction():
        await rankings.prune(conn, NOW + timedelta(days=2))
    found = await s.api.data(
        LIST, {"first": 1, "after": page["pageInfo"]["endCursor"]}, auth=s.auth
    )
    assert found["suggestions"] == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "message": "the ranking this cursor read is gone; start again",
    }
    # A new walk reads the ranking as it stands.
    again = await s.page(2, None)
    assert [e["rankedConfidence"] for e in again["edges"]] == [0.5, 0.3]
