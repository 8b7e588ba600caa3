"""What the README shows, run by the tests against a live service: a query, a mutation
retried with its idempotency key, and the account's events followed across drops."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from benefitgate_client import Benefitgate
from benefitgate_client.client import load_schema

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"


def show(**line: object) -> None:
    print(json.dumps(line), flush=True)


async def main() -> None:
    env = os.environ
    client = Benefitgate(env["BENEFITGATE_URL"], env["BENEFITGATE_CREDENTIAL"], load_schema(SCHEMA))
    account = env["ACCOUNT_ID"]
    show(step="query", result=await client.account_usage(account))

    key = str(uuid.uuid4())  # one key per intended consumption, kept across its retries
    for attempt in (1, 2):
        show(step="mutation", attempt=attempt, result=await client.consume(account, "m0", 5, key))

    def interrupted(reason: str) -> None:
        show(step="interrupted", reason=reason)

    after = env.get("AFTER")
    async for event in client.follow_events([account], after, interrupted):
        show(step="event", id=event["id"], cursor=event["cursor"], type=event["type"])
        if event["type"] == env.get("UNTIL", "test.end"):
            return


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
