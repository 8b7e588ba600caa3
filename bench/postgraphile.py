"""Benchmark: the lean account view uncached, Benefitgate against PostGraphile 5, on the
same database in the same run.

Seeds 10,000 demo accounts into a fresh database, starts `benefitgate serve` (one worker,
uvloop) and PostGraphile 5 (the Amber preset, one Node process), checks that both answer
the same facts for sampled accounts, then drives each with wrk over random accounts in
alternating rounds: the lean view (account, subscription, tier with its benefits, current
usage) at 16 and at 64 connections, and the account's name alone. Each round also drives
a second Benefitgate with `BENEFITGATE_FAST_QUERIES=off` (Strawberry executes the view
documents, as before `graphql.fast.queries` answered them in front of it) and the stack's
ceiling: a bare Strawberry app (`strawberry_ceiling.py`: same Strawberry, same
uvicorn with uvloop and the service's HTTP protocol, one worker) answering the same
documents from constants in memory, no database and no middleware, so the printout shows
what Strawberry execution can reach at best next to PostGraphile. The floor is a bare
Starlette endpoint returning a body of the lean view's size. Prints req/s, p50 and p99 of
every round and the median ratios of Benefitgate and of the ceiling to PostGraphile.

PostGraphile needs Node 22 (the system's Node 20 is too old): the benchmark installs the
npm registry's `node@22` and `postgraphile@5` packages into BENCH_CACHE (default
~/.cache/benefitgate-bench/postgraphile) with the system npm, once. Where that fails it
prints why and measures Benefitgate and the floor alone. It also needs a smart tag naming
the `subscriptions` table otherwise (PostGraphile's root `Subscription` type takes the
name) and one SQL function giving an account's current-period counters, both added to
the benchmark's own database. PostGraphile's answer leaves effective limits to its
client, so it does slightly less work than Benefitgate.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/postgraphile.py
Needs `wrk` (Debian package `wrk`). BENCH_ROUNDS (default 3) and BENCH_DURATION override.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from account_view import (
    PORT,
    SERVER_HTTP,
    measure_floor,
    prepare,
    serve,
    serve_benefitgate,
    server_dsn,
    suggestions_computed,
    wait_until_up,
    wrk,
)
from benefitgate import db
from scratch import scratch_database

PGL_PORT = 8767
CEILING_PORT = 8768
STRAWBERRY_PORT = 8769  # Benefitgate with view documents executed by Strawberry
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache/benefitgate-bench/postgraphile"))

BENEFITGATE = {
    "lean": """query View($id: ID!) { account(id: $id) { ... on Account { id name
      subscription { status } tier { key benefits { benefit { key } } }
      usage { metric { key } used } } } }""",
    "name": """query Name($id: ID!) { account(id: $id) { ... on Account { id name } } }""",
}
POSTGRAPHILE = {
    "lean": """query View($id: UUID!) { accountByRowId(rowId: $id) { rowId name
      licenseSubscriptionByAccountId { status tierVersionByTierVersionId { tierKey
        tierBenefitsByTierVersionId { nodes { benefitKey } } } }
      currentUsage { nodes { metricKey value } } } }""",
    "name": """query Name($id: UUID!) { accountByRowId(rowId: $id) { rowId name } }""",
}

# What PostGraphile needs of the database: a name for `subscriptions` that does not clash
# with its root `Subscription` type, one for `suggestion_ranking` that does not clash with
# `suggestion_rankings` (PostGraphile names both tables' connections alike, and then
# answers every request with a 500), and each metric's counter of the current period.
POSTGRAPHILE_SQL = """
comment on table subscriptions is E'@name license_subscriptions';
comment on table suggestion_ranking is E'@name suggestion_ranking_entry';
create function accounts_current_usage(a accounts) returns setof usage_counters
language sql stable as $$
    select distinct on (c.metric_key) c.* from usage_counters c
    where c.account_id = a.id and c.period_start <= now()
      and (c.period_end is null or c.period_end > now())
    order by c.metric_key, c.period_start desc
$$;
"""


def install_postgraphile() -> tuple[Path, Path] | str:
    """Node 22 and PostGraphile 5 from the npm registry, in CACHE: (node, cli), or why not."""
    node = CACHE / "node_modules/node/bin/node"
    cli = CACHE / "node_modules/postgraphile/dist/cli-run.js"
    if not (node.exists() and cli.exists()):
        if shutil.which("npm") is None:
            return "npm is not installed, so Node 22 cannot be fetched"
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "package.json").write_text('{"private": true}')
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "node@22", "postgraphile@5"],
            cwd=CACHE,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not node.exists():
            return f"npm install node@22 postgraphile@5 failed: {done.stderr.strip()[-500:]}"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    if not version.stdout.startswith("v22."):
        return f"the node package gave {version.stdout.strip() or version.stderr.strip()}"
    (CACHE / "graphile.config.mjs").write_text(
        'import { PostGraphileAmberPreset } from "postgraphile/presets/amber";\n'
        "export default { extends: [PostGraphileAmberPreset] };\n"
    )
    return node, cli


def serve_postgraphile(node: Path, cli: Path, dsn: str) -> subprocess.Popen[bytes]:
    args = [str(node), str(cli), "-C", str(CACHE / "graphile.config.mjs"), "-c", dsn,
            "-s", "public", "-p", str(PGL_PORT), "-n", "127.0.0.1"]  # fmt: skip
    return subprocess.Popen(
        args,
        cwd=CACHE,
        env={**os.environ, "GRAPHILE_ENV": "production", "NODE_ENV": "production"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def serve_ceiling(sample: Path) -> subprocess.Popen[bytes]:
    """The bare Strawberry app on the server stack `benefitgate serve` runs."""
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    args = ["strawberry_ceiling:app", "--port", str(CEILING_PORT), "--loop", "uvloop"]
    args += ["--http", SERVER_HTTP, "--no-access-log", "--app-dir", str(Path(__file__).parent)]
    return serve([uvicorn, *args], {"CEILING_SAMPLE_FILE": str(sample)})


def ceiling_answer(account_id: str, key: str) -> Any:
    """The ceiling's lean view, once it listens (it has no /healthz: GraphQL answers every
    path, a GET without a query with 400)."""
    for _ in range(200):
        try:
            return post(CEILING_PORT, BENEFITGATE["lean"], account_id, key)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {CEILING_PORT}")


def post(port: int, query: str, account_id: str, key: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": {"id": account_id}}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["data"]


def facts_of_benefitgate(data: Any) -> dict[str, Any]:
    a = data["account"]
    return {
        "name": a["name"],
        "status": a["subscription"]["status"].lower(),
        "tier": a["tier"]["key"],
        "benefits": sorted(b["benefit"]["key"] for b in a["tier"]["benefits"]),
        "usage": {u["metric"]["key"]: float(u["used"]) for u in a["usage"]},
    }


def facts_of_postgraphile(data: Any, metrics: list[str]) -> dict[str, Any]:
    a = data["accountByRowId"]
    sub = a["licenseSubscriptionByAccountId"]
    version = sub["tierVersionByTierVersionId"]
    counters = {c["metricKey"]: float(c["value"]) for c in a["currentUsage"]["nodes"]}
    return {
        "name": a["name"],
        "status": sub["status"],
        "tier": version["tierKey"],
        "benefits": sorted(
            b["benefitKey"] for b in version["tierBenefitsByTierVersionId"]["nodes"]
        ),
        # Benefitgate lists the metrics the account has a limit for; no counter is zero.
        "usage": {m: counters.get(m, 0.0) for m in metrics},
    }


def same_facts(ids: list[str], key: str) -> int:
    """Both services' answers for sampled accounts, compared; how many were compared."""
    for account_id in ids:
        ours = facts_of_benefitgate(post(PORT, BENEFITGATE["lean"], account_id, key))
        theirs = facts_of_postgraphile(
            post(PGL_PORT, POSTGRAPHILE["lean"], account_id, key), list(ours["usage"])
        )
        if ours != theirs:
            raise AssertionError(f"{account_id}: {ours} != {theirs}")
    return len(ids)


# The second Benefitgate: the same service with view documents left to Strawberry.
THROUGH_STRAWBERRY = {"BENEFITGATE_FAST_QUERIES": "off"}


def body_file(work: Path, name: str, query: str) -> Path:
    body = json.dumps({"query": query, "variables": {"id": "ID"}}).replace("%", "%%")
    path = work / f"{name}.json"
    path.write_text(body.replace('"ID"', '"%s"'))
    return path


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    server, embedded = server_dsn()
    dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded)))
    work = Path(tempfile.mkdtemp())
    (work / "ids.txt").write_text("\n".join(ids))
    installed = install_postgraphile()
    if isinstance(installed, str):
        print(f"PostGraphile not measured: {installed}")
    else:
        asyncio.run(_execute(dsn, POSTGRAPHILE_SQL))
    env = {"BENCH_IDS": str(work / "ids.txt"), "BENCH_KEY": key}
    runs: list[tuple[str, str, int]] = [("lean", "16", 16), ("lean", "64", 64), ("name", "16", 16)]
    figures: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    services = [serve_benefitgate(dsn, PORT, work)]
    try:
        wait_until_up(PORT)
        services.append(serve_benefitgate(dsn, STRAWBERRY_PORT, work, THROUGH_STRAWBERRY))
        wait_until_up(STRAWBERRY_PORT)
        asyncio.run(suggestions_computed(dsn))
        if not isinstance(installed, str):
            services.append(serve_postgraphile(*installed, dsn))
            wait_until_up(PGL_PORT)
            print(f"same facts from both for {same_facts(ids[:100], key)} accounts")
        sample = json.dumps(post(PORT, BENEFITGATE["lean"], ids[0], key)).encode()
        (work / "sample.json").write_bytes(sample)
        services.append(serve_ceiling(work / "sample.json"))
        if ceiling_answer(ids[0], key) != json.loads(sample):
            raise AssertionError("the ceiling's answer differs from Benefitgate's")
        targets = [
            ("benefitgate", PORT, BENEFITGATE),
            ("strawberry", STRAWBERRY_PORT, BENEFITGATE),
            ("ceiling", CEILING_PORT, BENEFITGATE),
        ]
        if not isinstance(installed, str):
            targets.append(("postgraphile", PGL_PORT, POSTGRAPHILE))
        for name, port, queries in targets:  # warm-up: connections, plans, caches
            wrk(port, {**env, "BENCH_QUERY": str(body_file(work, name, queries["lean"]))}, 16, "3s")
        for _ in range(ROUNDS):
            for doc, label, connections in runs:
                for name, port, queries in targets:
                    body = body_file(work, f"{name}-{doc}", queries[doc])
                    result = wrk(port, {**env, "BENCH_QUERY": str(body)}, connections)
                    figures.setdefault((name, doc, label), []).append(result)
    finally:
        for process in services:
            process.terminate()
            process.wait()
    (work / "floor.json").write_bytes(sample)
    body = body_file(work, "floor", BENEFITGATE["lean"])
    floor = measure_floor(work / "floor.json", {**env, "BENCH_QUERY": str(body)}, 16)
    _report(figures, floor, len(ids))


def _report(
    figures: dict[tuple[str, str, str], list[dict[str, float]]], floor: dict[str, float], n: int
) -> None:
    print(f"\nlean account view uncached, {n} accounts, {ROUNDS} alternating rounds")
    for (name, doc, label), rounds in figures.items():
        shown = ", ".join(f"{r['rps']:.0f} req/s p50 {r['p50']:.2f} p99 {r['p99']:.2f} ms"
                          for r in rounds)  # fmt: skip
        print(f"  {name:13}{doc:5}{label:>3} conns: {shown}")
    print(f"  floor (bare Starlette, same body, 16 conns): {floor['rps']:.0f} req/s,"
          f" p99 {floor['p99']:.2f} ms")  # fmt: skip
    print("  (strawberry: Benefitgate with BENEFITGATE_FAST_QUERIES=off, Strawberry executing)")
    print("  (ceiling: bare Strawberry, same documents answered from memory, no database)")
    for doc, label in sorted({(d, c) for _, d, c in figures}):
        theirs = figures.get(("postgraphile", doc, label), [])
        for name in ("benefitgate", "strawberry", "ceiling"):
            ours = figures.get((name, doc, label), [])
            median = statistics.median(r["rps"] for r in ours)
            line = f"  {doc} at {label}: {name} {median:.0f} req/s"
            line += f", {median / floor['rps']:.3f} of the floor"
            if theirs:
                ratios = [a["rps"] / b["rps"] for a, b in zip(ours, theirs, strict=True)]
                p99 = statistics.median(
                    a["p99"] / b["p99"] for a, b in zip(ours, theirs, strict=True)
                )
                line += (f"; {name}/PostGraphile req/s median {statistics.median(ratios):.2f}"
                         f" (target >= 1), p99 ratio {p99:.2f} (target <= 1 at 64)")  # fmt: skip
            print(line)


async def _execute(dsn: str, sql: str) -> None:
    conn = await db.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
