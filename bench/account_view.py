"""Benchmark: the `account` view on one uvicorn worker (uvloop), no response cache.

Seeds 10,000 demo accounts into a fresh database, starts `benefitgate serve`, and drives
the view for random accounts with wrk at fixed concurrency. In the same run it measures the
floor: a bare Starlette endpoint returning a JSON body of the same size. Prints req/s, p50,
p99 and the ratio to the floor.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/account_view.py
Without DATABASE_URL, an embedded Postgres is used. Needs `wrk` (Debian package `wrk`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from benefitgate import db, migrate
from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role
from benefitgate.demo.seed import seed_demo
from scratch import scratch_database

HERE = Path(__file__).resolve().parent
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "10000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
DURATION = os.environ.get("BENCH_DURATION", "20s")
# BENCH_PORT: where the service listens (the floor one above), when several benchmarks
# share a machine.
PORT = int(os.environ.get("BENCH_PORT", "8765"))
FLOOR_PORT = PORT + 1
# The HTTP protocol `benefitgate serve` runs: the floor and the ceiling run on it too, so
# that what they measure is the service's own work, not a different server's.
SERVER_HTTP = "benefitgate.http_protocol:HttpProtocol"

QUERY = """query View($id: ID!) { account(id: $id) { __typename ... on Account {
  id name
  subscription { status term seats currentPeriodEnd renewalDate }
  tier { key name rank monthlyPrice { amountCents currency } support { name firstResponseHours }
         limits { metric { key } included enforcement }
         exclusions { benefit { key name } includedIn { key } } }
  entitlements { benefit { key name kind } source expiresAt amount }
  usage { metric { key name unit } used limit remaining percent unlimited }
  nextTier { tier { key name } addedBenefits { key name kind impact { amount unit } }
             raisedLimits { metric { key } current next } monthlyPriceDelta { amountCents } }
} ... on Error { code message } } }"""


def server_dsn() -> tuple[str, db.EmbeddedPostgres | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    embedded = db.EmbeddedPostgres(Path(".data/bench").resolve())
    return embedded.start(), embedded


async def prepare(server: str, name: str, accounts: int = ACCOUNTS) -> tuple[str, str, list[str]]:
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    dsn = db.with_database(server, name)
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn)
        started = time.perf_counter()
        await seed_demo(conn, accounts=accounts, seed=1, now=datetime.now(UTC), progress=True)
        print(f"seeded {accounts} accounts in {time.perf_counter() - started:.1f} s")
        key = (await apikeys.create_key(conn, name="bench", role=Role.ADMIN)).secret
        ids = [str(r["id"]) for r in await conn.fetch("select id from accounts")]
    finally:
        await conn.close()
    return dsn, key, ids


def wait_until_up(port: int) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError as exc:
            if getattr(exc, "code", None) == 404:  # the floor app has no /healthz
                return
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def wrk(
    port: int,
    env: dict[str, str],
    connections: int = CONNECTIONS,
    duration: str = DURATION,
    pid: int | list[int] | None = None,
) -> dict[str, float]:
    """req/s, p50 and p99 (ms); with `pid` (or the pids of a server's processes), also the
    server's CPU per request (µs), which other work on a shared machine disturbs far less
    than the rates."""
    pids = None if pid is None else [pid] if isinstance(pid, int) else pid
    cpu_before = None if pids is None else cpu_seconds(pids)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}",
            "--latency",
            "-s",
            str(HERE / "random_account.lua"),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx responses:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    figures = {"rps": rps, "p50": ms("50"), "p99": ms("99")}
    if pids is not None and cpu_before is not None:
        done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        figures["cpu_us"] = (cpu_seconds(pids) - cpu_before) / max(done, 1) * 1e6
    return figures


def one_response(port: int, key: str, account_id: str) -> bytes:
    body = json.dumps({"query": QUERY, "variables": {"id": account_id}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        data: bytes = response.read()
    assert b'"Account"' in data, data[:300]
    return data


async def suggestions_computed(dsn: str) -> None:
    """Wait for the scheduler's first pass over the seeded accounts' suggestions: a
    one-off backfill of 10,000 accounts that would otherwise share the CPU with the run."""
    conn = await db.connect(dsn)
    started = time.perf_counter()
    try:
        for _ in range(600):  # at most five minutes
            if not await conn.fetchval("select exists (select 1 from suggestion_marks)"):
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    print(f"suggestions of the seeded accounts computed in {time.perf_counter() - started:.0f} s")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of the processes so far (Linux /proc)."""
    return sum(cpu_by_pid(pids).values())


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """Each live process's user and system CPU time so far; ended ones are left out."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        seconds[pid] = ticks / os.sysconf("SC_CLK_TCK")
    return seconds


def postgres_pids() -> list[int]:
    """Every Postgres process on this machine: backends and the WAL writer and checkpointer,
    whose work a write benchmark causes too."""
    return [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "postgres"
    ]


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""  # the process ended while we looked


def serve(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def measure_floor(
    body: Path, env: dict[str, str], connections: int = CONNECTIONS, duration: str = DURATION
) -> dict[str, float]:
    """wrk against the floor: a bare Starlette endpoint answering `body`, on uvicorn with
    uvloop and the service's HTTP protocol, as the service runs."""
    process = serve_floor(body)
    try:
        wait_until_up(FLOOR_PORT)
        return wrk(FLOOR_PORT, env, connections, duration, pid=process.pid)
    finally:
        process.terminate()
        process.wait()


def serve_benefitgate(
    dsn: str, port: int, data_dir: Path, env: dict[str, str] | None = None, workers: int = 1
) -> subprocess.Popen[bytes]:
    """`benefitgate serve` (one worker unless told, uvloop) on `port`, quiet, against `dsn`;
    without the response cache unless `env` turns it on, so that execution is what is
    measured."""
    benefitgate = Path(sys.executable).parent / "benefitgate"
    base = {
        "DATABASE_URL": dsn,
        "BENEFITGATE_PORT": str(port),
        "BENEFITGATE_LOG_LEVEL": "WARNING",
        "BENEFITGATE_DATA_DIR": str(data_dir),
        # The benchmark's admin key drives thousands of requests a second: no rate limit.
        "BENEFITGATE_RATE_ADMIN": "off",
        "BENEFITGATE_RESPONSE_CACHE": "0",
        "REDIS_URL": "",
    }
    args = [str(benefitgate), "serve"] + (["--workers", str(workers)] if workers > 1 else [])
    return serve(args, {**base, **(env or {})})


def serve_floor(body_file: Path, port: int = FLOOR_PORT) -> subprocess.Popen[bytes]:
    """The floor app (`floor_app.py`, one uvicorn worker, uvloop) answering `body_file`."""
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    args = ["floor_app:app", "--port", str(port), "--loop", "uvloop", "--http", SERVER_HTTP]
    args += ["--no-access-log", "--app-dir", str(HERE)]
    return serve([uvicorn, *args], {"FLOOR_BODY_FILE": str(body_file)})


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    dsn, key, ids = asyncio.run(prepare(server, name))
    work = Path(tempfile.mkdtemp())
    (work / "ids.txt").write_text("\n".join(ids))
    request = json.dumps({"query": QUERY, "variables": {"id": "ACCOUNT"}}).replace("%", "%%")
    (work / "query.json").write_text(request.replace('"ACCOUNT"', '"%s"'))
    env = {
        "BENCH_IDS": str(work / "ids.txt"),
        "BENCH_QUERY": str(work / "query.json"),
        "BENCH_KEY": key,
    }
    service = serve_benefitgate(dsn, PORT, work)
    try:
        wait_until_up(PORT)
        asyncio.run(suggestions_computed(dsn))
        sample = one_response(PORT, key, ids[0])
        (work / "floor.json").write_bytes(sample)
        wrk(PORT, env, duration="3s")  # warm-up: caches and connections
        view = wrk(PORT, env)
    finally:
        service.terminate()
        service.wait()
    floor_proc = serve_floor(work / "floor.json")
    try:
        wait_until_up(FLOOR_PORT)
        floor = wrk(FLOOR_PORT, env)
    finally:
        floor_proc.terminate()
        floor_proc.wait()
    print(
        f"\naccount view, {ACCOUNTS} accounts, {CONNECTIONS} connections, {DURATION}, "
        f"response {len(sample)} bytes"
    )
    for label, figures in (("service", view), ("floor", floor)):
        print(
            f"  {label + ':':9}{figures['rps']:8.0f} req/s  "
            f"p50 {figures['p50']:6.2f} ms  p99 {figures['p99']:6.2f} ms"
        )
    print(f"  ratio service/floor: {view['rps'] / floor['rps']:.3f}")
    print("  target: >= 600 req/s, p99 < 60 ms")


if __name__ == "__main__":
    main()
