"""The cost estimate and its ceiling per role: list sizes from `first`, nested lists
multiplying, fragments costed once, a typed error naming the cost and the ceiling, and
the rule built once so the validation cache keeps hitting. Sizes from variables:
test_cost_variables."""

from __future__ import annotations

import uuid

import asyncpg
import orjson
from hypothesis import given
from hypothesis import strategies as st

from benefitgate.auth.principals import Role
from benefitgate.graphql import validation
from benefitgate.graphql.cost import COST_LIMIT_EXCEEDED, cost_rule
from benefitgate.graphql.schema import build_schema
from graphql import GraphQLError, parse, validate
from tests.conftest import MakeApi, api_key, frontend_token

SCHEMA = build_schema(max_depth=20, max_tokens=5_000, max_aliases=50, suggestions=False)

# accounts: first x (1 + edges: 1 x (1 + node: 1 + grants: 10 x (1 + benefit: 1))) = first x 23
GRANTS_OF_ACCOUNTS = """query($n: Int! = 5) {
  accounts(first: FIRST) {
    ... on AccountConnection { edges { node { grants { benefit { key } } } } }
  }
}"""


def grants_of_accounts(first: int) -> str:
    return GRANTS_OF_ACCOUNTS.replace("($n: Int! = 5)", "").replace("FIRST", str(first))


def cost_errors(document: str, ceiling: int) -> list[GraphQLError]:
    return validate(SCHEMA._schema, parse(document), [cost_rule("test", ceiling)])


def cost_of(document: str) -> int:
    """The estimate, read from the error of a ceiling of zero."""
    errors = cost_errors(document, 0)
    if not errors:
        return 0
    assert errors[0].extensions is not None
    cost: int = errors[0].extensions["cost"]
    return cost


@given(st.integers(min_value=1, max_value=100))
def test_first_sizes_the_page_and_nested_lists_multiply(first: int) -> None:
    assert cost_of(GRANTS_OF_ACCOUNTS.replace("FIRST", str(first))) == first * 23


def test_first_capped_or_the_arguments_default_and_variables_left_to_the_request() -> None:
    assert cost_of(GRANTS_OF_ACCOUNTS.replace("FIRST", "1000")) == 100 * 23  # capped
    assert cost_of(GRANTS_OF_ACCOUNTS.replace("(first: FIRST)", "")) == 20 * 23  # default 20
    # A size from a variable is the request's (test_cost_variables): the document's
    # verdict, which the validation cache keeps, is not given for it.
    assert cost_errors(GRANTS_OF_ACCOUNTS.replace("FIRST", "$n"), 0) == []


def test_scalars_typename_and_introspection_cost_nothing() -> None:
    assert cost_of("{ __typename }") == 0
    assert cost_of("{ __schema { types { name fields { name args { name } } } } }") == 0
    assert cost_of("{ tiers { key name } }") == 10  # ten tiers of weight one


def test_a_fragment_spread_many_times_is_costed_once_and_cycles_end() -> None:
    # Each level spreads the next twice: 2^12 paths, costed level by level.
    levels = [f"fragment F{i} on Tier {{ key ...F{i + 1} ...F{i + 1} }}" for i in range(12)]
    document = "{ tiers { ...F0 } }\n" + "\n".join(levels) + "\nfragment F12 on Tier { key }"
    assert cost_of(document) == 10
    cyclic = "{ tiers { ...A } } fragment A on Tier { ...B } fragment B on Tier { ...A }"
    assert cost_of(cyclic) == 10


def test_an_operation_above_the_ceiling_is_refused_naming_cost_and_ceiling() -> None:
    document = GRANTS_OF_ACCOUNTS.replace("FIRST", "100")
    (error,) = cost_errors(document, 1_000)
    assert error.extensions == {"code": COST_LIMIT_EXCEEDED, "cost": 2_300, "ceiling": 1_000}
    assert "cost 2300 is above the ceiling of 1000" in error.message
    assert cost_errors(document, 2_300) == []


def test_a_cost_past_what_json_numbers_hold_is_reported_as_their_largest() -> None:
    """Fragments spreading the next twice, 70 deep, cost 2^70 x 10: encoding the refusal
    failed, and the request got a 500."""
    levels = [f"fragment F{i} on Tier {{ ...F{i + 1} ...F{i + 1} }}" for i in range(70)]
    document = (
        "{ tiers { ...F0 } }\n"
        + "\n".join(levels)
        + "\nfragment F70 on Tier { outcomes { __typename } }"
    )
    (error,) = cost_errors(document, 1_000)
    assert error.extensions == {"code": COST_LIMIT_EXCEEDED, "cost": 2**53 - 1, "ceiling": 1_000}
    assert f"cost over {2**53 - 1} is above the ceiling of 1000" in error.message
    assert orjson.loads(orjson.dumps(error.formatted))["extensions"]["cost"] == 2**53 - 1


async def test_ceilings_are_per_role_over_http(conn: asyncpg.Connection, make_api: MakeApi) -> None:
    admin = await api_key(conn, Role.ADMIN)
    token = frontend_token(uuid.uuid4())
    document = grants_of_accounts(100)
    ceilings = {"frontend": 1_000, "admin": 5_000}
    async with make_api(cost_ceilings=ceilings) as api:
        refused = await api.post(
            document, auth=token, headers={"accept": "application/graphql-response+json"}
        )
        allowed = await api.post(document, auth=admin)

    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {"code": COST_LIMIT_EXCEEDED, "cost": 2_300, "ceiling": 1_000}
    assert "data" not in refused.json()
    assert allowed.status_code == 200 and "errors" not in allowed.json()


async def test_the_cost_rule_keeps_the_validation_cache_hitting(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    admin = await api_key(conn, Role.ADMIN)
    document = grants_of_accounts(3) + " # cache test"
    cached = validation._cached_validation(True)
    # Strawberry's own path: a view document it ran cleanly is answered in front of it.
    async with make_api(cost_ceilings={"admin": 5_000}, fast_queries=False) as api:
        await api.post(document, auth=admin)
        before = cached.cache_info()  # type: ignore[attr-defined]
        for _ in range(3):
            await api.post(document, auth=admin)
        after = cached.cache_info()  # type: ignore[attr-defined]
    assert after.hits - before.hits == 3 and after.misses == before.misses
