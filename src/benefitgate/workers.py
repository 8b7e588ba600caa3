"""Several uvicorn workers, each accepting connections on a listening socket of its own.

uvicorn's workers all listen on the one socket their supervisor bound, so they share one
accept queue, and a worker woken by a burst of new connections takes the whole burst
(uvloop accepts until the queue is empty). Connections opened together and kept open (a
load balancer's pool, a client's connection pool) then all land on one worker while the
others idle: 32 connections of a benchmark opened at once were all served by one of two.

Here the supervisor binds the address with SO_REUSEPORT and never listens on it, which
only holds the port (the kernel spreads connections over listening sockets alone), and
each worker binds the same address with SO_REUSEPORT and listens on a socket of its own:
the kernel hashes each new connection's addresses to one of the workers' queues (Linux
3.9 and later). The supervisor starts a worker anew when one dies, stops every worker on
SIGINT or SIGTERM (each finishes its requests, as uvicorn's own), and stops the service
if a worker ends before it served (a bad setting would fail again at every start).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from multiprocessing.synchronize import Event as EventType
from types import FrameType

import uvicorn

# uvicorn's own start of a worker process (its config, logging and stdin in the child), as
# its supervisor uses it: private, so the version is pinned in pyproject.toml.
from uvicorn._subprocess import get_subprocess, spawn
from uvicorn.config import STARTUP_FAILURE

__all__ = ["serve_workers"]

log = logging.getLogger(__name__)

_CHECK_SECONDS = 0.5  # how often the supervisor looks for a worker that died


def serve_workers(config: uvicorn.Config) -> None:
    """Run `config.workers` workers of `config` until SIGINT or SIGTERM; exits with
    uvicorn's STARTUP_FAILURE if a worker ends before it has started serving, or if the
    address is in use."""
    holder = _hold(config.host, config.port)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    workers = [_Worker(config, holder) for _ in range(config.workers)]
    failed = False
    try:
        while not stop.wait(_CHECK_SECONDS):
            for i, worker in enumerate(workers):
                code = worker.process.exitcode
                if code is None:
                    continue
                if not worker.started.is_set():  # a bad setting: starting again loops
                    failed = True
                    stop.set()
                else:
                    log.warning("worker %s exited (%s): starting another", worker.process.pid, code)
                    workers[i] = _Worker(config, holder)
    finally:
        for worker in workers:
            worker.stop()
        holder.close()
    if failed:
        sys.exit(STARTUP_FAILURE)


class _Worker:
    def __init__(self, config: uvicorn.Config, holder: socket.socket) -> None:
        self.started = spawn.Event()
        server = _OwnSocketServer(config, self.started)
        self.process = get_subprocess(config, target=server.run, sockets=[holder])
        self.process.start()

    def stop(self) -> None:
        if self.process.exitcode is None and self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join()


class _OwnSocketServer(uvicorn.Server):
    """A worker that listens on its own socket bound to the address of the one it was
    handed, which it closes, and sets `started` once it serves."""

    def __init__(self, config: uvicorn.Config, started: EventType) -> None:
        super().__init__(config)
        self._started = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is not None:
            handed, sockets = sockets, [_reuse_port_socket(*s.getsockname()[:2]) for s in sockets]
            for sock in handed:
                sock.close()
        await super().startup(sockets=sockets)
        if self.started:
            self._started.set()


def _hold(host: str, port: int) -> socket.socket:
    """The supervisor's socket on the address, if nothing listens there. Checked with a
    socket without SO_REUSEPORT first: a holder with it would join the listening sockets
    of another service started the same way on the same port, and the kernel would share
    the connections between the two."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            log.error("cannot serve on %s:%s: %s", host, port, exc)
            sys.exit(STARTUP_FAILURE)
    return _reuse_port_socket(host, port)


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
