"""`benefitgate serve` on its embedded default: stopped by SIGTERM, it stops the private
Postgres it started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.live import free_port


def _postgres_of(data_dir: Path) -> list[psutil.Process]:
    """The Postgres processes whose command line names a folder under `data_dir`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or ())
        if "postgres" in line and str(data_dir) in line:
            found.append(process)
    return found


@pytest.mark.timeout(180)
async def test_sigterm_stops_the_embedded_postgres_that_serve_started(tmp_path: Path) -> None:
    """uvicorn raises SIGTERM again once it has shut down, to exit by it: the process
    ended there, before the embedded server was stopped, which then ran on."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "BENEFITGATE_PORT": str(port),
        "BENEFITGATE_DATA_DIR": str(tmp_path),
        "BENEFITGATE_SCHEDULER_SECONDS": "0",
        "BENEFITGATE_LOG_LEVEL": "WARNING",
    }
    command = str(Path(sys.executable).parent / "benefitgate")
    process = await asyncio.create_subprocess_exec(
        command, "serve", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(1200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert process.returncode is None, f"serve exited with {process.returncode}"
                await asyncio.sleep(0.05)
        assert _postgres_of(tmp_path), "serve did not start an embedded Postgres"

        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 60)

        assert code == 128 + signal.SIGTERM
        assert not _postgres_of(tmp_path)
    finally:
        if process.returncode is None:
            process.kill()
        for left in _postgres_of(tmp_path):
            with contextlib.suppress(psutil.Error):
                left.kill()
