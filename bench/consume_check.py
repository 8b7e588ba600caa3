"""Benchmark: `usageConsume` and `entitlementCheck` on one service process at 32 connections.

Seeds 10,000 demo accounts into a fresh database, starts `benefitgate serve` (one worker,
uvloop), and drives each operation with wrk for random accounts: a consume of one API call
with a fresh idempotency key per request, a check of a metric, and a check of a feature
(lower tiers lack it, so about half are denials, counted in memory and written in
batches), answered in front of Strawberry (`graphql/fast/checks.py`), and the same feature
check through Strawberry (a directive keeps it off the fast path). Checks answer from each
account's entitlement snapshot, which the warm-up fills (its denials are the accounts'
first, and the rounds begin once the suggestions they open are made). `BENCH_ONLY=checks`
skips the consume. In the same run it measures the floor: a bare Starlette endpoint
returning a body of the same size. Prints req/s, p50, p99 and the server's CPU per request
for each, with the load average (the machine may be shared).

wrk keeps all 32 connections busy, so it measures the most the service can do, and its
latencies are then mostly queueing (by Little's law the mean is 32 / throughput). Each
check, and the floor, is therefore also driven at the target's rate, 5,000 req/s over 32
connections, by `open_loop.py` (a request every 6.4 ms on each connection, each latency
counted from its turn): what clients sending that rate see. The floor is then offered,
for each check, the rate that keeps its one event loop about as busy as the check's loop
was at 5,000 (by CPU per request): the tail that busyness alone costs a server written in
Python on this machine, whatever it answers. `BENCH_JOBS=apart` runs the
scheduler's jobs (the suggestion job recomputes the accounts the checks' denials mark) in
a process of their own, as a deployment whose serving replicas run none does.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/consume_check.py
Needs `wrk` (Debian package `wrk`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import httpx

from account_view import (
    DURATION,
    FLOOR_PORT,
    PORT,
    cpu_seconds,
    measure_floor,
    prepare,
    serve_benefitgate,
    serve_floor,
    server_dsn,
    suggestions_computed,
    wait_until_up,
    wrk,
)
from benefitgate.metering.denials import FLUSH_SECONDS
from scratch import scratch_database

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
# BENCH_WORKERS=2 serves with `benefitgate serve --workers 2`; CPU is then the workers' sum.
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
# BENCH_ONLY=checks measures the two checks (and the floor) alone.
ONLY = os.environ.get("BENCH_ONLY", "")
# BENCH_JOBS=apart runs the scheduler's jobs in a `benefitgate serve` of their own that is
# sent no request, and the measured one with BENEFITGATE_SCHEDULER_SECONDS=0: a deployment
# whose serving replicas run no job. Both share the machine's cores. BENCH_JOBS=off runs
# no job anywhere (denials are still written, and marks wait): what the jobs cost the tail.
JOBS_APART = os.environ.get("BENCH_JOBS", "") == "apart"
JOBS_OFF = os.environ.get("BENCH_JOBS", "") == "off"
JOBS_PORT = PORT + 7
# Issue 21: a check at 5,000 req/s with p99 under 5 ms, at 32 connections.
TARGET_RPS, TARGET_P99_MS = 5_000, 5.0
# Account ids and keys travel as variables, as real clients send them, so that the parser
# and validation caches see one document per operation.
OPERATIONS = {
    "usageConsume": """mutation Consume($id: ID!, $key: String!) {
      usageConsume(accountId: $id, metric: "api_calls", amount: 1, idempotencyKey: $key) {
        __typename ... on UsageConsumed { used limit remaining overage }
        ... on QuotaExceeded { quota: limit resetsAt } } }""",
    "entitlementCheck metric": """query Check($id: ID!) {
      entitlementCheck(accountId: $id, metric: "api_calls", requested: 10) {
        __typename ... on EntitlementCheck { allowed reason remaining tier } } }""",
    "entitlementCheck feature": """query Check($id: ID!) {
      entitlementCheck(accountId: $id, feature: "anomaly_alerts") {
        __typename ... on EntitlementCheck { allowed reason remaining tier } } }""",
    # The same answer through Strawberry: the check's fast path leaves directives to it.
    "check feature, executed": """query Check($id: ID!) {
      entitlementCheck(accountId: $id, feature: "anomaly_alerts") {
        __typename ... on EntitlementCheck @include(if: true) {
          allowed reason remaining tier } } }""",
}
EXPECTED = {"UsageConsumed", "QuotaExceeded", "EntitlementCheck"}


def body_file(work: Path, name: str, query: str) -> Path:
    """A JSON body with `%s` where wrk puts the account id and the request's key."""
    variables = {"id": "ID"} | ({"key": "KEY"} if "$key" in query else {})
    body = json.dumps({"query": query, "variables": variables}).replace("%", "%%")
    path = work / f"{name.replace(' ', '_')}.json"
    path.write_text(body.replace('"ID"', '"%s"').replace('"KEY"', '"%s"'))
    return path


def sample(port: int, key: str, body: Path, account_id: str) -> bytes:
    template = body.read_text()
    data = template % (account_id, uuid.uuid4().hex)[: template.count("%s")]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=data.encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        answer: bytes = response.read()
    assert any(f'"{kind}"'.encode() in answer for kind in EXPECTED), answer[:300]
    return answer


async def warm_snapshots(port: int, key: str, ids: list[str]) -> None:
    """One check per account, 32 at a time, so that every account's entitlement snapshot
    is loaded before the checks are measured (a cold check loads it in two statements)."""
    query = OPERATIONS["entitlementCheck feature"]
    headers = {"authorization": f"Bearer {key}"}
    pending = iter(ids)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        async def worker() -> None:
            for account_id in pending:
                body = {"query": query, "variables": {"id": account_id}}
                response = await client.post("/graphql", json=body, headers=headers)
                assert b"EntitlementCheck" in response.content, response.content[:300]

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))


def request_file(work: Path, port: int, key: str, body: Path, ids: list[str]) -> Path:
    """Whole HTTP requests of `body` for 2,000 random accounts, for `open_loop.py`."""
    template, chosen = body.read_text(), random.Random(7).choices(ids, k=2_000)
    requests = []
    for account_id in chosen:
        data = (template % (account_id, uuid.uuid4().hex)[: template.count("%s")]).encode()
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        requests.append(head.encode() + data)
    path = body.with_suffix(".http")
    path.write_bytes(b"\0".join(requests))
    return path


def open_loop(
    port: int, requests: Path, pids: list[int], rate: int = TARGET_RPS
) -> dict[str, float]:
    """`open_loop.py` at `rate` (the target's) for the benchmark's duration: what clients
    sending it see, with the server's CPU per request."""
    seconds = DURATION.removesuffix("s")
    before = cpu_seconds(pids)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "open_loop.py"), str(port),
         str(rate), seconds, str(requests)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    figures: dict[str, float] = json.loads(out)
    if figures["non_2xx"]:
        raise RuntimeError(f"non-2xx responses: {figures}")
    figures["cpu_us"] = (cpu_seconds(pids) - before) / figures["sent"] * 1e6
    return figures


def family(pid: int) -> list[int]:
    """A server process and its descendants (the workers of `serve --workers N`)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    pids, index = [pid], 0
    while index < len(pids):
        pids.extend(child for child, parent in parents.items() if parent == pids[index])
        index += 1
    return pids


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    server, embedded = server_dsn()
    dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded)))
    work = Path(tempfile.mkdtemp())
    (work / "ids.txt").write_text("\n".join(ids))
    chosen = {n: q for n, q in OPERATIONS.items() if ONLY != "checks" or "entitlementCheck" in q}
    bodies = {name: body_file(work, name, query) for name, query in chosen.items()}
    env = {"BENCH_IDS": str(work / "ids.txt"), "BENCH_KEY": key}
    figures, largest, at_rate = {}, b"", {}
    no_jobs = {"BENEFITGATE_SCHEDULER_SECONDS": "0"} if JOBS_APART or JOBS_OFF else None
    service = serve_benefitgate(dsn, PORT, work, env=no_jobs, workers=WORKERS)
    jobs = serve_benefitgate(dsn, JOBS_PORT, Path(tempfile.mkdtemp())) if JOBS_APART else None
    try:
        wait_until_up(PORT)
        if jobs is not None:
            wait_until_up(JOBS_PORT)
        jobs_cpu = 0.0
        if not JOBS_OFF:  # else nothing computes them
            asyncio.run(suggestions_computed(dsn))
        if any("entitlementCheck" in query for query in chosen.values()):
            started = time.perf_counter()
            asyncio.run(warm_snapshots(PORT, key, ids))
            print(f"entitlement snapshots of {len(ids)} accounts loaded in"
                  f" {time.perf_counter() - started:.1f} s")  # fmt: skip
            if not JOBS_OFF:
                # The warm-up's checks are the accounts' first denials of the feature, new
                # evidence: the suggestion job opens a suggestion for each denied account,
                # once. The rounds are measured after that wave, as on a service whose
                # accounts were denied before; repeats then mark an account at most every
                # MARK_EVERY (metering.denials).
                time.sleep(2 * FLUSH_SECONDS)
                asyncio.run(suggestions_computed(dsn))
        if jobs is not None:
            jobs_cpu = cpu_seconds([jobs.pid])
        for name, body in bodies.items():
            answer = sample(PORT, key, body, ids[0])
            largest = max(largest, answer, key=len)
            run_env = {**env, "BENCH_QUERY": str(body)}
            wrk(PORT, run_env, CONNECTIONS, duration="3s")  # warm-up
            figures[name] = wrk(PORT, run_env, CONNECTIONS, pid=family(service.pid))
            if "entitlementCheck" in name:
                requests = request_file(work, PORT, key, body, ids)
                at_rate[name] = open_loop(PORT, requests, family(service.pid))
        if jobs is not None:
            jobs_cpu = cpu_seconds([jobs.pid]) - jobs_cpu
    finally:
        for process in (service, jobs):
            if process is not None:
                process.terminate()
                process.wait()
    (work / "floor.json").write_bytes(largest)
    floor_env = {**env, "BENCH_QUERY": str(next(iter(bodies.values())))}
    figures["floor"] = measure_floor(work / "floor.json", floor_env, CONNECTIONS)
    floor = serve_floor(work / "floor.json")
    try:
        wait_until_up(FLOOR_PORT)
        body = next(b for n, b in bodies.items() if "entitlementCheck" in n)
        requests = request_file(work, FLOOR_PORT, key, body, ids)
        at_rate["floor"] = open_loop(FLOOR_PORT, requests, [floor.pid])
        # The tail grows steeply with how busy the one event loop is. The floor offered
        # the rate that keeps its loop about as busy as each check's at the target's rate
        # (by CPU per request at that rate) shows what that busyness alone costs the tail.
        for name in [n for n in at_rate if n != "floor"]:
            busy = at_rate[name]["cpu_us"] / at_rate["floor"]["cpu_us"]
            rate = int(round(TARGET_RPS * busy, -2))
            label = f"floor at {rate} (as busy)"
            at_rate[label] = open_loop(FLOOR_PORT, requests, [floor.pid], rate)
    finally:
        floor.terminate()
        floor.wait()
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"\nconsume and check, {len(ids)} accounts, {CONNECTIONS} connections,"
          f" {WORKERS} worker(s), load average {load}")  # fmt: skip
    if JOBS_OFF:
        print("  no scheduler's jobs anywhere (BENCH_JOBS=off)")
    if JOBS_APART:
        print(f"  the scheduler's jobs in a process of their own: {jobs_cpu:.1f} s of its CPU"
              " while the service was measured")  # fmt: skip
    floor_rps = figures["floor"]["rps"]
    for name, f in figures.items():
        print(f"  {name + ':':27}{f['rps']:8.0f} req/s  p50 {f['p50']:6.2f} ms"
              f"  p99 {f['p99']:6.2f} ms  {f['rps'] / floor_rps:5.2f} of the floor"
              f"  server CPU {f['cpu_us']:5.0f} us a request")  # fmt: skip
    print(f"\nat the target's rate, {TARGET_RPS} req/s offered over {CONNECTIONS} connections"
          " (open_loop.py: latency from each request's turn)")  # fmt: skip
    for name, f in at_rate.items():
        print(f"  {name + ':':27}{f['rps']:8.0f} req/s  p50 {f['p50']:6.2f} ms"
              f"  p99 {f['p99']:6.2f} ms  p99.9 {f['p999']:6.2f} ms  max {f['max']:7.2f} ms"
              f"  server CPU {f['cpu_us']:5.0f} us a request"
              f"  client CPU {f['client_cpu_s']} s")  # fmt: skip
    for name, f in figures.items():
        if name.startswith("entitlementCheck"):
            saturated = f["rps"] >= TARGET_RPS and f["p99"] < TARGET_P99_MS
            served = at_rate[name]["rps"] >= 0.99 * TARGET_RPS
            met = served and at_rate[name]["p99"] < TARGET_P99_MS
            print(f"  {name}: target {TARGET_RPS} req/s with p99 < {TARGET_P99_MS} ms"
                  f" {'met' if met else 'NOT met'} at that rate;"
                  f" with wrk's 32 busy connections ({f['rps']:.0f} req/s)"
                  f" {'met' if saturated else 'not met'}")  # fmt: skip


if __name__ == "__main__":
    main()
