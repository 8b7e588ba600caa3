"""The depth and alias limits' measures (`graphql.document_limits`): each fragment is
measured once, and counts as strawberry's limiters counted it."""

from __future__ import annotations

import uuid

import pytest

from benefitgate.graphql.document_limits import alias_count, operation_depth
from graphql import parse
from tests.conftest import MakeApi, frontend_token

BOTH = "{ ...A ...B } fragment A on Query { tiers { key } } fragment B on Query { __typename }"


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        ("{ __typename }", 0),
        ("{ tiers { key } }", 1),
        ("{ tiers { } }", 1),  # graphql-core 3.3 parses it; another rule refuses it
        ("{ __schema { types { fields { name } } } }", 0),  # introspection counts 0
        ("{ ...A } fragment A on Query { tiers { ...B } } fragment B on Tier { key }", 1),
        (BOTH, 1),
        ("{ ...Unknown }", 0),  # KnownFragmentNamesRule refuses it
        ("{ ...A } fragment A on Query { ...A }", 0),  # NoFragmentCyclesRule refuses it
    ],
)
def test_depth_follows_spreads_as_the_operation_would_run(document: str, depth: int) -> None:
    assert list(operation_depth(parse(document)).values()) == [depth]


def test_aliases_count_at_each_spread_of_their_fragment() -> None:
    document = parse(
        "{ x: __typename ...A ...A tiers { ...C } } fragment A on Query { y: __typename ...B } "
        "fragment B on Query { z: __typename } fragment C on Tier { w: key }"
    )
    assert alias_count(document) == 1 + 2 * (1 + 1) + 1  # x, A twice (y and z), w


async def test_a_long_chain_of_fragments_is_refused_as_graphql_core_refuses_it(
    make_api: MakeApi,
) -> None:
    """Each of 400 fragments spreads the next: the depth measure recursed once a spread,
    past Python's stack, and the client read "Unexpected error."; graphql-core's own rules
    abort validation for such a document, and now that is the answer."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(400))
    document = f"{{ ...F0 }} {chain} fragment F400 on Query {{ __typename }}"
    assert operation_depth(parse(document, max_tokens=5_000)) != {}  # measured, no recursion
    async with make_api(max_tokens=5_000) as api:
        response = await api.post(document, auth=frontend_token(uuid.uuid4()))
    assert response.json() == {"errors": [{"message": "Validation aborted."}]}
