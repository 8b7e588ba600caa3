"""The README's verifiers, run as written against snapshots a live `benefitgate serve`
signed: Python with PyJWT, and TypeScript with jose, compiled by `tsc --strict` and run by
Node (skipped, saying why, without Node). Both fetch the keys from the service."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import jwt
import pytest

from benefitgate.offline.keys import KeyRing, new_private_key_pem
from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess
from tests.fixtures.node import run_node, tools_folder

README = Path(__file__).resolve().parents[2] / "README.md"

SNAPSHOT = """query($id: ID!) { entitlementSnapshot(accountId: $id) {
  ... on EntitlementSnapshot { token keyId } } }"""
CHECK = """query($id: ID!, $feature: String, $metric: String, $requested: Float! = 1) {
  entitlementCheck(accountId: $id, feature: $feature, metric: $metric, requested: $requested) {
    ... on EntitlementCheck { allowed } } }"""

ASKED: list[dict[str, Any]] = [
    {"feature": "b0"},
    {"feature": "b1"},
    {"feature": "b2"},
    {"metric": "m0", "requested": 1},
    {"metric": "m0", "requested": 60},
    {"metric": "m0", "requested": 61},
    {"metric": "m1", "requested": 100},
]


def _snippet(marker: str, language: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", README.read_text(), re.S)
    assert found is not None, f"the README's {marker}"
    return found.group(1)


class Live:
    def __init__(self, service: ServiceProcess, data: Path, account: UUID, admin: str) -> None:
        self.service, self.data, self.account, self.admin = service, data, account, admin
        self.base_url = f"http://127.0.0.1:{service.port}"

    def keys(self) -> KeyRing:
        """The key the service generated into its data folder at start."""
        return KeyRing.configured("", "", self.data)

    async def snapshot(self) -> str:
        body = await self.service.post(SNAPSHOT, {"id": str(self.account)}, self.admin)
        token: str = body["data"]["entitlementSnapshot"]["token"]
        return token

    async def checks(self) -> list[bool]:
        answers = []
        for asked in ASKED:
            body = await self.service.post(CHECK, {"id": str(self.account), **asked}, self.admin)
            answers.append(body["data"]["entitlementCheck"]["allowed"])
        return answers


@pytest.fixture
async def live(conn: asyncpg.Connection, dsn: str, tmp_path: Path) -> AsyncIterator[Live]:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await factories.grant(conn, account, "b1")
    # The live service's clock is the wall clock: a period around today, 40 of m0 used in it.
    start = await conn.fetchval(
        """update subscriptions
           set current_period_start = date_trunc('second', now()) - '10 days'::interval,
               current_period_end = date_trunc('second', now()) + '20 days'::interval,
               renewal_date = (now() + '20 days'::interval)::date
           where account_id = $1 returning current_period_start""",
        account,
    )
    await conn.execute(
        "insert into usage_counters (account_id, metric_key, period_start, value)"
        " values ($1, 'm0', $2, 40)",
        account,
        start,
    )
    service = ServiceProcess(dsn, JWT_SECRET, tmp_path / "data")
    await service.start()
    try:
        yield Live(service, tmp_path / "data", account, await api_key(conn))
    finally:
        await service.stop()


def _allows(namespace: dict[str, Any], claims: dict[str, Any]) -> list[bool]:
    return [namespace["allows"](claims, **asked) for asked in ASKED]


async def test_the_readmes_python_verifier_accepts_the_services_snapshots_only(
    live: Live,
) -> None:
    namespace: dict[str, Any] = {"BASE_URL": live.base_url}
    code = _snippet("snapshot-verify-python", "python")
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (the README's own code)
    verified = namespace["verified_snapshot"]
    token = await live.snapshot()

    claims = await asyncio.to_thread(verified, token)
    assert claims["sub"] == str(live.account)
    assert _allows(namespace, claims) == await live.checks()
    assert _allows(namespace, claims) == [True, True, False, True, True, False, True]

    header, payload, signature = token.split(".")
    forged = json.loads(jwt.utils.base64url_decode(payload))
    forged["entitlements"].append("b2")  # what the account does not have
    raw = json.dumps(forged).encode()
    with pytest.raises(jwt.InvalidSignatureError):
        await asyncio.to_thread(
            verified, f"{header}.{jwt.utils.base64url_encode(raw).decode()}.{signature}"
        )
    stranger = KeyRing.of(new_private_key_pem())  # a key the service never published
    with pytest.raises(jwt.PyJWKClientError):
        await asyncio.to_thread(verified, stranger.sign({**claims, "entitlements": ["b2"]}))
    # The service's own key (from its data folder) on claims past their expiry.
    expired = live.keys().sign({**claims, "exp": claims["iat"] - 1})
    with pytest.raises(jwt.ExpiredSignatureError):
        await asyncio.to_thread(verified, expired)


async def test_the_readmes_typescript_verifier_accepts_the_services_snapshots_only(
    live: Live, tmp_path: Path
) -> None:
    folder = tools_folder()
    (folder / "snapshot_verify.mts").write_text(_snippet("snapshot-verify-ts", "ts"))
    compiled = await asyncio.create_subprocess_exec(
        "node", str(folder / "node_modules/typescript/bin/tsc"), "--strict",
        "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext",
        "--lib", "es2022,dom", "--skipLibCheck", "snapshot_verify.mts",
        cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(compiled.communicate(), 120)
    assert compiled.returncode == 0, out.decode()
    harness = tmp_path / "snapshot_harness.mjs"
    harness.write_text(HARNESS)
    token = await live.snapshot()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    env = {
        "BASE_URL": live.base_url,
        "TOKENS": json.dumps([token, forged]),
        "ASKED": json.dumps(ASKED),
    }
    printed = json.loads(await run_node(harness, env=env))

    assert printed[0]["sub"] == str(live.account)
    assert printed[0]["allows"] == await live.checks()
    assert printed[1] == {"refused": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"}


HARNESS = """
import { snapshotVerifier, allows } from "./snapshot_verify.mjs";
const verify = snapshotVerifier(process.env.BASE_URL);
const asked = JSON.parse(process.env.ASKED);
const printed = [];
for (const token of JSON.parse(process.env.TOKENS)) {
  try {
    const snapshot = await verify(token);
    printed.push({ sub: snapshot.sub, allows: asked.map((a) => allows(snapshot, a)) });
  } catch (error) {
    printed.push({ refused: error.code });
  }
}
console.log(JSON.stringify(printed));
"""
