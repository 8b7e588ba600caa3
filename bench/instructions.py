"""Instructions a cold `account` view costs the app, counted by valgrind: a measure of CPU
that the machine's drift does not move.

On this shared machine the CPU time of one code moved by a fifth to a third between runs
(bench/README, `cold_cpu.py`), more than most changes to the request path. Instructions
counted by valgrind's callgrind do not drift: two runs of one code here agreed within 0.5 %.
So each source tree given (`PYTHONPATH`s; the working tree's `src` when none is) serves
the same requests in a process of its own under callgrind, and only the requests are
counted: the process starts, reads every body once (plans, caches, connections), then
callgrind's instrumentation is switched on (`callgrind_control -i on`) for BENCH_REQUESTS
requests (default 300) for random accounts, the same ones for every tree, through the
ASGI app with no client or socket, the response cache off and no Redis, as `cold_cpu.py`
drives it. Postgres's own work is in another process and not counted.

Prints instructions per request for the full view, the lean view and the name alone, for
each tree, and each tree's ratio to the first. Seeds BENCH_ACCOUNTS (default 500) demo
accounts into a fresh database, or uses BENCH_DSN with BENCH_KEY (an admin key).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/instructions.py [src ...]

Needs valgrind (`apt-get install valgrind`); without it, prints why and measures nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "500"))
WARM = 100  # accounts whose bodies are read before counting; the counted ones are among them


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("instructions not counted: valgrind is not installed (apt-get install valgrind)")
        return
    sources = [str(Path(s).resolve()) for s in sys.argv[1:]] or [str(HERE.parent / "src")]
    dsn, key = database()
    from cold_cpu import DOCUMENTS

    counted: dict[str, list[float]] = {}
    for label in DOCUMENTS:
        for source in sources:
            per_request = count(source, label, dsn, key)
            counted.setdefault(label, []).append(per_request)
            first = counted[label][0]
            print(
                f"{label}: {per_request:,.0f} instructions a request, {source}"
                f" ({per_request / first:.3f} of the first)",
                flush=True,
            )


def database() -> tuple[str, str]:
    if os.environ.get("BENCH_DSN"):
        return os.environ["BENCH_DSN"], os.environ["BENCH_KEY"]
    from account_view import prepare, server_dsn
    from scratch import scratch_database

    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    dsn, key, _ = asyncio.run(prepare(server, name, ACCOUNTS))
    return dsn, key


def count(source: str, label: str, dsn: str, key: str) -> float:
    """Instructions a request of `label` costs the app of `source`, under callgrind."""
    work = Path(tempfile.mkdtemp())
    out, errors = work / "callgrind.out", work / "stderr"
    env = {**os.environ, "PYTHONPATH": f"{source}:{HERE}", "BENCH_DSN": dsn, "BENCH_KEY": key}
    args = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    args += [sys.executable, __file__, "--serve", label, str(REQUESTS)]
    pipe = subprocess.PIPE
    with errors.open("wb") as stderr:
        child = subprocess.Popen(args, env=env, stdin=pipe, stdout=pipe, stderr=stderr)
    try:
        converse(child, "ready", "go", on=True)  # counted from here
        converse(child, "done", "end", on=False)  # to here
        child.wait(timeout=300)
    except RuntimeError as failed:
        raise RuntimeError(f"{failed}; its stderr ends:\n{errors.read_text()[-2000:]}") from None
    finally:
        if child.poll() is None:
            child.kill()
    totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    assert totals is not None, "callgrind wrote no totals"
    return int(totals.group(1)) / REQUESTS


def converse(child: subprocess.Popen[bytes], heard: str, answer: str, *, on: bool) -> None:
    """Once the child says `heard`, switch callgrind's counting `on` (or off) and answer."""
    assert child.stdin is not None and child.stdout is not None
    said = child.stdout.readline().decode().strip()
    if said != heard:
        raise RuntimeError(f"the serving process said {said!r}, not {heard!r}")
    switch = ["callgrind_control", "-i", "on" if on else "off", str(child.pid)]
    subprocess.run(switch, check=True, capture_output=True)
    child.stdin.write(f"{answer}\n".encode())
    child.stdin.flush()


async def serve(label: str, requests: int) -> None:
    """The child: the app, warmed, then `requests` requests once told to go."""
    from asgi_lifespan import LifespanManager

    from benefitgate.app import create_app
    from benefitgate.config import Settings
    from cold_cpu import DOCUMENTS, ids_of
    from profile_check import call, scope_of

    os.environ.setdefault("BENEFITGATE_RATE_ADMIN", "off")
    dsn, key = os.environ["BENCH_DSN"], os.environ["BENCH_KEY"]
    base = Settings.from_env()
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    quiet = {"log_level": "WARNING", "response_cache": False, "redis_url": None}
    quiet |= {"scheduler_seconds": 0, "data_dir": Path(tempfile.mkdtemp())}
    settings = Settings(**{**fields, **quiet, "database_url": dsn})
    ids = sorted(await ids_of(dsn))[:WARM]
    bodies = [json.dumps({"query": DOCUMENTS[label], "variables": {"id": a}}).encode() for a in ids]
    chosen = random.Random(7)  # the same requests for every tree
    sent = [chosen.choice(bodies) for _ in range(requests)]
    async with LifespanManager(create_app(settings, dsn)) as manager:
        for body in bodies:
            assert await call(manager.app, scope_of(key, body), body) == 200
        await told("ready")
        for body in sent:
            await call(manager.app, scope_of(key, body), body)
        await told("done")


async def told(saying: str) -> None:
    """Say `saying` to the parent and wait for its answer."""
    print(saying, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


if __name__ == "__main__":
    main()
