"""`benefitgate serve --workers 2`: each worker accepts on a socket of its own, so the
kernel spreads connections opened together over both; a worker that dies is replaced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.live import CLEAN_STOP, free_port

CONNECTIONS = 64


@contextlib.asynccontextmanager
async def two_workers(dsn: str, data_dir: Path) -> AsyncIterator[tuple[int, psutil.Process]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "DATABASE_URL": dsn,
        "BENEFITGATE_PORT": str(port),
        "BENEFITGATE_DATA_DIR": str(data_dir),
        "BENEFITGATE_LOG_LEVEL": "WARNING",
        "BENEFITGATE_SCHEDULER_SECONDS": "0",
    }
    command = str(Path(sys.executable).parent / "benefitgate")
    process = await asyncio.create_subprocess_exec(
        command, "serve", "--workers", "2", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        supervisor = psutil.Process(process.pid)
        await _until(lambda: len(_listening(supervisor, port)) == 2, process)
        yield port, supervisor
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        assert code in CLEAN_STOP


def _listening(supervisor: psutil.Process, port: int) -> dict[int, int]:
    """Each worker's listening sockets on `port`: worker pid, count."""
    found: Counter[int] = Counter()
    for worker in supervisor.children():
        with contextlib.suppress(psutil.Error):
            for c in worker.net_connections(kind="tcp"):
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port:
                    found[worker.pid] += 1
    return dict(found)


def _served(supervisor: psutil.Process, port: int) -> Counter[int]:
    """Established connections on `port`, by the worker that holds them."""
    held: Counter[int] = Counter()
    for worker in supervisor.children():
        for c in worker.net_connections(kind="tcp"):
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port:
                held[worker.pid] += 1
    return held


async def _until(condition: object, process: asyncio.subprocess.Process) -> None:
    assert callable(condition)
    for _ in range(600):
        if condition():
            return
        assert process.returncode is None, f"serve exited with {process.returncode}"
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not come true")


async def _open_together(port: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Connections opened at once, each answered once (so each has been accepted)."""
    pairs = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(CONNECTIONS))
    )
    for _, writer in pairs:
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: benefitgate\r\n\r\n")
    for reader, _ in pairs:
        assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
    return pairs


@pytest.mark.timeout(120)
async def test_connections_opened_together_are_spread_over_both_workers(
    dsn: str, tmp_path: Path
) -> None:
    """With one shared accept queue, the first worker woken took nearly all of a burst
    (31 of 32 connections in a trial); with a socket each, the kernel hashes them."""
    async with two_workers(dsn, tmp_path) as (port, supervisor):
        assert sorted(_listening(supervisor, port).values()) == [1, 1]
        pairs = await _open_together(port)
        try:
            held = _served(supervisor, port)
        finally:
            for _, writer in pairs:
                writer.close()
    assert sum(held.values()) == CONNECTIONS
    assert len(held) == 2 and min(held.values()) >= CONNECTIONS // 4, held


@pytest.mark.timeout(120)
async def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(
    dsn: str, tmp_path: Path
) -> None:
    async with two_workers(dsn, tmp_path) as (port, supervisor):
        doomed = supervisor.children()[0]
        doomed.kill()
        process = psutil.Process(supervisor.pid)

        def replaced() -> bool:
            pids = set(_listening(process, port))
            return len(pids) == 2 and doomed.pid not in pids

        for _ in range(600):
            if replaced():
                break
            await asyncio.sleep(0.05)
        assert replaced()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(10):
                assert (await http.get("/healthz")).status_code == 200


@pytest.mark.timeout(120)
async def test_a_worker_that_cannot_start_stops_the_service_instead_of_starting_again(
    dsn: str, tmp_path: Path
) -> None:
    """A setting the app refuses fails every start alike: starting workers again looped
    until something killed the supervisor."""
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "BENEFITGATE_PORT": str(free_port()),
        "BENEFITGATE_DATA_DIR": str(tmp_path),
        "BENEFITGATE_SCHEDULER_SECONDS": "0",
        "BENEFITGATE_SNAPSHOT_MINUTES": "0",  # refused when the app is made, in the worker
    }
    command = str(Path(sys.executable).parent / "benefitgate")
    process = await asyncio.create_subprocess_exec(
        command,
        "serve",
        "--workers",
        "2",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, errors = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 3  # uvicorn's STARTUP_FAILURE
    assert b"BENEFITGATE_SNAPSHOT_MINUTES must be at least 1" in errors
    assert b"starting another" not in errors


@pytest.mark.timeout(120)
async def test_a_second_service_on_the_same_port_is_refused_not_joined(
    dsn: str, tmp_path: Path
) -> None:
    """Sockets with SO_REUSEPORT of one user share a port: a second `serve --workers 2` on
    the port of a running one would have taken half its connections."""
    async with two_workers(dsn, tmp_path) as (port, supervisor):
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "BENEFITGATE_PORT": str(port),
            "BENEFITGATE_DATA_DIR": str(tmp_path / "second"),
            "BENEFITGATE_SCHEDULER_SECONDS": "0",
        }
        command = str(Path(sys.executable).parent / "benefitgate")
        second = await asyncio.create_subprocess_exec(
            command,
            "serve",
            "--workers",
            "2",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, errors = await asyncio.wait_for(second.communicate(), 60)
        finally:
            if second.returncode is None:
                second.kill()
        assert sorted(_listening(supervisor, port).values()) == [1, 1]  # the first's only
    assert second.returncode == 3, errors
    assert f"cannot serve on 127.0.0.1:{port}".encode() in errors
