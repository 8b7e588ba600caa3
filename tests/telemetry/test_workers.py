"""Several uvicorn workers: the metrics of every worker add up in one scrape
(prometheus-client's multiprocess mode), served on their own port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import asyncpg
import httpx

from tests.conftest import JWT_SECRET, api_key
from tests.fixtures.live import CLEAN_STOP, free_port
from tests.fixtures.metrics import Scrape, scrape

TIERS = "query Tiers { tiers { key } }"
OPERATIONS = "benefitgate_graphql_operation_duration_seconds_count"


def _metrics_folders(data_dir: Path) -> list[Path]:
    return list(data_dir.glob("metrics-*"))


async def _ready(http: httpx.AsyncClient, url: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if (await http.get(url)).status_code == 200:
                return
        assert process.returncode is None, f"serve exited with {process.returncode}"
        await asyncio.sleep(0.05)
    raise AssertionError("serve --workers 2 did not become ready")


async def _scrape_until_both_workers_count(url: str) -> Scrape:
    """Each worker reads its pool gauge when it starts: 2 x 3 once both have."""
    for _ in range(200):
        last = await scrape(url)
        if last.value("benefitgate_db_pool_max_connections") == 6:
            break
        await asyncio.sleep(0.05)
    return last


async def test_two_workers_add_up_in_one_scrape_on_the_metrics_port(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    key = await api_key(conn)
    port, metrics_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "DATABASE_URL": dsn,
        "BENEFITGATE_PORT": str(port),
        "BENEFITGATE_METRICS_PORT": str(metrics_port),
        "BENEFITGATE_POOL_MAX": "3",
        "BENEFITGATE_JWT_SECRET": JWT_SECRET,
        "BENEFITGATE_DATA_DIR": str(tmp_path),
        "BENEFITGATE_LOG_LEVEL": "WARNING",
        "BENEFITGATE_SCHEDULER_SECONDS": "0",
        # Every request executes, so each moves the operations counter (a cache hit would
        # count under cache_lookups_total instead).
        "BENEFITGATE_RESPONSE_CACHE": "0",
    }
    command = str(Path(sys.executable).parent / "benefitgate")
    process = await asyncio.create_subprocess_exec(
        command, "serve", "--workers", "2", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _ready(http, "/readyz", process)
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            before = await _scrape_until_both_workers_count(metrics_url)
            for _ in range(20):  # a new connection each: the kernel spreads them
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as one:
                    answer = await one.post(
                        "/graphql",
                        json={"query": TIERS},
                        headers={"authorization": f"Bearer {key}"},
                    )
                    assert answer.status_code == 200
            after = await scrape(metrics_url)
            public = await http.get("/metrics")
        folders = _metrics_folders(tmp_path)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)

    assert code in CLEAN_STOP
    assert public.status_code == 404
    assert before.value("benefitgate_db_pool_max_connections") == 6
    tiers = {"operation": "Tiers", "type": "query", "outcome": "success"}
    assert after.value(OPERATIONS, **tiers) - before.value(OPERATIONS, **tiers) == 20
    assert len(folders) == 1  # made for the workers under the data folder...
    assert not _metrics_folders(tmp_path)  # ...and removed when they ended
