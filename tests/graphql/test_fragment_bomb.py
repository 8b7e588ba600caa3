"""Fragments spread many times are measured once. Sixty fragments, each spreading the next
twice, make a document of 4 KB whose fragments expand to 2^60 selections: the depth and
alias limits, and the account view reading which fields its document selects, walked a
fragment again at each spread, and one such request from a frontend held a real
`benefitgate serve` so that it answered nobody, not even its health probe. Its cost, past
64 bits, then failed the refusal's encoding (a 500)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from benefitgate.auth.principals import issue_frontend_token
from tests.conftest import JWT_SECRET
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess

LEVELS = 60


def _fragments(on: str, leaf: str) -> str:
    """F0 to F60 on `on`, each Fi spreading F(i+1) twice, F60 selecting `leaf`."""
    spreading = " ".join(
        f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(LEVELS)
    )
    return f"{spreading} fragment F{LEVELS} on {on} {{ {leaf} }}"


async def test_a_fragment_bomb_is_answered_and_the_service_keeps_answering(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    token = issue_frontend_token(
        JWT_SECRET,
        subject="user-1",
        account_id=account_id,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    on_account = f'{{ account(id: "{account_id}") {{ ... on Account {{ ...F0 }} }} }} '
    service = ServiceProcess(dsn, JWT_SECRET, tmp_path)
    await service.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{service.port}",
            headers={"authorization": f"Bearer {token}"},
            timeout=10,  # the old walk took years: the request timed out
        ) as http:

            async def send(document: str) -> dict[str, object]:
                response = await http.post("/graphql", json={"query": document})
                assert response.status_code == 200, response.text
                body: dict[str, object] = response.json()
                return body

            plain = await send("{ ...F0 } " + _fragments("Query", "__typename"))
            assert plain == {"data": {"__typename": "Query"}}
            view = await send(on_account + _fragments("Account", "name"))
            assert "errors" not in view and view["data"] == {"account": {"name": "Acme"}}
            aliased = await send("{ ...F0 } " + _fragments("Query", "a: __typename"))
            assert aliased == {"errors": [{"message": f"{2**60} aliases found. Allowed: 20"}]}
            lists = await send(on_account + _fragments("Account", "grants { benefit { key } }"))
            assert lists == {
                "errors": [
                    {
                        "message": f"operation cost over {2**53 - 1} is above the ceiling of "
                        "5000 for frontend callers: ask for smaller pages (`first`) or fewer "
                        "nested lists",
                        "locations": [{"line": 1, "column": 1}],
                        "extensions": {
                            "code": "COST_LIMIT_EXCEEDED",
                            "cost": 2**53 - 1,
                            "ceiling": 5000,
                        },
                    }
                ]
            }
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await service.kill()
