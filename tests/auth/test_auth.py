import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import jwt
import pytest

from benefitgate.auth import apikeys
from benefitgate.auth.credentials import VerifiedCredentials
from benefitgate.auth.principals import JOB_ACTORS, Principal, Role
from benefitgate.clock import FixedClock
from benefitgate.governance.actors import SYSTEM
from benefitgate.milestones import service as milestones
from benefitgate.subscriptions import due
from benefitgate.webhooks import dispatcher
from tests.conftest import JWT_SECRET, Api, api_key, frontend_token

QUERY = "{ tiers { key } }"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing credentials"),
        ("Basic dXNlcjpwYXNz", "expected `Authorization: Bearer"),
        ("Bearer not-a-jwt", "invalid token"),
        ("Bearer bgk_short", "malformed API key"),
    ],
)
async def test_missing_or_malformed_credentials_get_401(
    api: Api, header: str | None, why: str
) -> None:
    headers = {"authorization": header} if header else {}
    response = await api.client.post("/graphql", json={"query": QUERY}, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"].startswith(why)


async def test_expired_and_wrongly_signed_tokens_get_401(api: Api) -> None:
    expired = frontend_token(uuid4(), ttl=timedelta(seconds=-1))
    forged = frontend_token(uuid4(), secret="another-secret-of-sufficient-length-here")

    assert (await api.post(QUERY, auth=expired)).status_code == 401
    assert (await api.post(QUERY, auth=forged)).status_code == 401
    assert (await api.post(QUERY, auth=frontend_token(uuid4()))).status_code == 200


async def test_a_verified_token_is_checked_again_for_its_expiry_alone(
    api: Api, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified once (its signature and claims), then kept until its expiry by the clock:
    401 from its `exp` instant on, as a token checked in full is, and never again 200."""
    decoded = []
    real_decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)  # as `principals` calls it
    token = frontend_token(uuid4(), ttl=timedelta(minutes=5))
    for _ in range(3):
        assert (await api.post(QUERY, auth=token)).status_code == 200
    assert decoded == [token]

    clock.advance(timedelta(minutes=5) - timedelta(microseconds=1))
    assert (await api.post(QUERY, auth=token)).status_code == 200
    clock.advance(timedelta(microseconds=1))  # its `exp` instant
    for _ in range(2):
        response = await api.post(QUERY, auth=token)
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "token expired"
    # The second refusal checked the token in full again: an expired token is not kept.
    assert decoded == [token, token]


async def test_a_token_expires_at_the_same_instant_verified_or_not(
    api: Api, clock: FixedClock
) -> None:
    """An `exp` whose fraction is finer than a microsecond: a verified token is held to
    its expiry in microseconds, so a token checked in full must be too. One verified
    before got 401 at that instant while the same claims, never seen, got 200."""
    account_id = uuid4()
    exp = clock.now().timestamp() + 300 + 3e-7  # rounds down to a whole microsecond

    def token(subject: str) -> str:
        claims = {"sub": subject, "account_id": str(account_id), "exp": exp}
        return jwt.encode(claims, JWT_SECRET, algorithm="HS256")

    verified = token("user-1")
    assert (await api.post(QUERY, auth=verified)).status_code == 200
    clock.advance(timedelta(seconds=300))
    for credential in (verified, token("user-2")):
        response = await api.post(QUERY, auth=credential)
        assert response.status_code == 401, credential
        assert response.json()["errors"][0]["message"] == "token expired"


async def test_a_token_unlike_a_verified_one_in_any_byte_is_checked_in_full(api: Api) -> None:
    token = frontend_token(uuid4())
    assert (await api.post(QUERY, auth=token)).status_code == 200
    head, payload, signature = token.split(".")
    tampered = [
        f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        f"{head}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}",
        frontend_token(uuid4(), secret="another-secret-of-sufficient-length-here"),
    ]
    for forged in tampered:
        response = await api.post(QUERY, auth=forged)
        assert response.status_code == 401, forged
        assert response.json()["errors"][0]["message"] == "invalid token"
    assert (await api.post(QUERY, auth=token)).status_code == 200


async def test_a_signed_token_whose_expiry_has_no_instant_gets_401(api: Api) -> None:
    # Only a holder of the signing secret can make one, but it failed as an unexpected error.
    for exp in (1e300, 253_402_300_800):  # past what a datetime holds; past year 9999
        claims = {"sub": "user-1", "account_id": str(uuid4()), "exp": exp}
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
        response = await api.post(QUERY, auth=token)
        assert response.status_code == 401, exp
        assert response.json()["errors"][0]["message"] == "invalid token"


async def test_an_api_key_id_other_than_hex_is_malformed_before_any_lookup(api: Api) -> None:
    # A NUL in the id reached the key lookup, which failed as an unexpected error. (uvicorn
    # refuses a NUL in a header; a WebSocket's connection_init is JSON, refused at the edge.)
    for key_id in ("\x00" * 12, "ABCDEF012345", "zzzzzzzzzzzz"):
        response = await api.post(QUERY, auth=f"bgk_{key_id}_{'s' * 32}")
        assert response.status_code == 401, key_id
        assert response.json()["errors"][0]["message"] == "malformed API key"


async def test_unknown_and_revoked_api_keys_get_401(conn: asyncpg.Connection, api: Api) -> None:
    key = await api_key(conn, Role.OPERATOR)
    unknown = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert (await api.post(QUERY, auth=key)).status_code == 200  # also caches the key

    assert (await api.post(QUERY, auth=unknown)).status_code == 401
    await apikeys.revoke_key(conn, key.split("_")[1])
    # The revocation reaches the process through the outbox; the cached key is dropped.
    for _ in range(50):
        if (await api.post(QUERY, auth=key)).status_code == 401:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("revoked key still accepted")


async def test_a_key_revoked_while_its_first_lookup_runs_is_not_kept(
    conn: asyncpg.Connection, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key's row is read before its revocation commits, and the revocation's event
    arrives before the lookup ends: the request that began first is answered, but the key
    must not be kept, or this process accepts it until some other key is revoked."""
    key, other = await api_key(conn, Role.OPERATOR), await api_key(conn, Role.OPERATOR)
    assert api.app is not None
    verified = api.app.state.benefitgate.authenticator.keys
    assert (await api.post(QUERY, auth=other)).status_code == 200  # kept: a revocation clears it
    read, go_on = asyncio.Event(), asyncio.Event()
    real_authenticate = apikeys.authenticate

    async def held(connection: asyncpg.Connection, raw: str) -> Principal:
        principal = await real_authenticate(connection, raw)  # the row, not yet revoked
        read.set()
        await go_on.wait()
        return principal

    monkeypatch.setattr(apikeys, "authenticate", held)  # as `credentials` calls it
    first = asyncio.create_task(api.post(QUERY, auth=key))
    try:
        await asyncio.wait_for(read.wait(), 10)
        await apikeys.revoke_key(conn, key.split("_")[1])
        for _ in range(200):  # the revocation reaches the process through the outbox
            if len(verified) == 0:
                break
            await asyncio.sleep(0.025)
        else:
            pytest.fail("the revocation never reached the authenticator")
    finally:
        go_on.set()
    assert (await first).status_code == 200  # it began before the revocation
    monkeypatch.setattr(apikeys, "authenticate", real_authenticate)

    response = await api.post(QUERY, auth=key)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "revoked API key"


async def test_keys_are_stored_only_as_hashes(conn: asyncpg.Connection) -> None:
    issued = await apikeys.create_key(conn, name="ci", role=Role.ADMIN)
    stored = await conn.fetchrow("select * from api_keys where id = $1", issued.key.id)

    assert issued.secret.startswith("bgk_")
    secret_part = issued.secret.split("_", 2)[2]
    assert secret_part.encode() not in bytes(stored["secret_hash"])
    assert all(secret_part not in str(value) for value in stored.values())


async def test_partner_keys_must_name_a_partner(conn: asyncpg.Connection) -> None:
    with pytest.raises(ValueError, match="partner"):
        await apikeys.create_key(conn, name="p", role=Role.PARTNER)
    with pytest.raises(ValueError, match="partner"):
        await apikeys.create_key(conn, name="a", role=Role.ADMIN, partner_id=uuid4())


async def test_a_signed_token_whose_subject_postgres_cannot_store_gets_401(
    conn: asyncpg.Connection, api: Api
) -> None:
    # Reads passed and writes keyed by the subject (idempotency keys) failed as
    # "Unexpected error.": a NUL or a lone surrogate cannot be stored, and a subject of
    # thousands of characters passes no index.
    account_id = uuid4()
    for subject in ("user\x00one", "user\ud800", "u" * 256, "", 7):
        claims = {"sub": subject, "account_id": str(account_id), "exp": 4_000_000_000}
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
        response = await api.post(QUERY, auth=token)
        assert response.status_code == 401, subject
        assert response.json()["errors"][0]["message"] == "invalid token"
    claims = {"sub": "u" * 255, "account_id": str(account_id), "exp": 4_000_000_000}
    longest = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    assert (await api.post(QUERY, auth=longest)).status_code == 200


async def test_a_token_whose_subject_reads_as_an_api_key_or_a_job_gets_401(
    conn: asyncpg.Connection, api: Api
) -> None:
    """The audit trail names an actor by one string; the customer's governance view shows
    `key:<id>` as the vendor (or a partner) and a job's name as the system. A frontend
    subject of either kind would pass its user's changes off as theirs, so the token is
    refused; a subject that only contains such text is a user's like any other."""
    account_id = uuid4()
    key = await api_key(conn)
    key_id = key.split("_")[1]
    jobs = {milestones.ACTOR, due.ACTOR, dispatcher.ACTOR, *SYSTEM}
    assert jobs <= JOB_ACTORS  # every job that writes audit entries
    for subject in (f"key:{key_id}", "key:", *sorted(JOB_ACTORS)):
        claims = {"sub": subject, "account_id": str(account_id), "exp": 4_000_000_000}
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
        response = await api.post(QUERY, auth=token)
        assert response.status_code == 401, subject
    for subject in ("monkey:1", "Key:1", "scheduler2", " seed", "user key:1"):
        claims = {"sub": subject, "account_id": str(account_id), "exp": 4_000_000_000}
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
        assert (await api.post(QUERY, auth=token)).status_code == 200, subject


def test_verified_credentials_keep_the_most_recently_used_within_their_size() -> None:
    verified = VerifiedCredentials(size=2)
    first, second, third = (Principal(Role.ADMIN, subject=f"key:{n}") for n in range(3))
    verified.put(b"1", first)
    verified.put(b"2", second)
    assert verified.get(b"1") is first  # now the most recently used
    verified.put(b"3", third)
    assert len(verified) == 2
    assert verified.get(b"2") is None
    assert verified.get(b"1") is first and verified.get(b"3") is third
