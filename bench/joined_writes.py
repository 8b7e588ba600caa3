"""Benchmark: what one write a response is worth, on the floor app.

The floor (`floor_app.py`: bare Starlette returning a check-sized JSON body) on uvicorn
with uvloop, once with uvicorn's own httptools protocol (the status line and headers in
one `send`, the body in another) and once with `benefitgate.http_protocol` (both in one),
alternating for BENCH_ROUNDS rounds (3) of wrk at 32 connections. Prints req/s, p50, p99
and the server's CPU per request of each round, and the load average.

    .venv/bin/python bench/joined_writes.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from account_view import FLOOR_PORT, HERE, SERVER_HTTP, serve, wait_until_up, wrk

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PROTOCOLS = {"uvicorn's httptools": "httptools", "one write a response": SERVER_HTTP}
CHECK = {"__typename": "EntitlementCheck", "allowed": True, "reason": None, "remaining": None}
BODY = {"data": {"entitlementCheck": CHECK | {"tier": None}}}


def serve_on(protocol: str, body: Path) -> subprocess.Popen[bytes]:
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    args = [uvicorn, "floor_app:app", "--port", str(FLOOR_PORT), "--loop", "uvloop"]
    args += ["--http", protocol, "--no-access-log", "--app-dir", str(HERE)]
    return serve(args, {"FLOOR_BODY_FILE": str(body)})


def main() -> None:
    work = Path(tempfile.mkdtemp())
    (work / "body.json").write_text(json.dumps(BODY))
    (work / "ids.txt").write_text("a\nb\n")
    (work / "request.json").write_text('{"query": "{ x }", "variables": {"id": "%s"}}')
    env = {"BENCH_IDS": str(work / "ids.txt"), "BENCH_QUERY": str(work / "request.json")}
    env["BENCH_KEY"] = "none"
    print(f"load average at the start {os.getloadavg()[0]:.2f}")
    for round_ in range(1, ROUNDS + 1):
        for name, protocol in PROTOCOLS.items():
            process = serve_on(protocol, work / "body.json")
            try:
                wait_until_up(FLOOR_PORT)
                wrk(FLOOR_PORT, env, 32, "3s")  # warm-up
                f = wrk(FLOOR_PORT, env, 32, pid=process.pid)
            finally:
                process.terminate()
                process.wait()
            print(f"  round {round_}, {name + ':':24}{f['rps']:8.0f} req/s  p50 {f['p50']:5.2f} ms"
                  f"  p99 {f['p99']:5.2f} ms  server CPU {f['cpu_us']:4.0f} us a request"
                  f"  (load {os.getloadavg()[0]:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
