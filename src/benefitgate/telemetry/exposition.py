"""Serving the metrics, from one process or from several workers.

With one process, the metrics live in its memory. With several uvicorn workers, each
writes its values to files in `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess
mode, chosen when the variable is set before the workers start), and whoever serves the
metrics adds the files up. `serve --workers N` sets the folder up; see `prepare_folder`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server
from prometheus_client.exposition import choose_encoder

__all__ = [
    "MULTIPROC_ENV",
    "forget_process",
    "prepare_folder",
    "remove_folder",
    "render",
    "serve_on_port",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def render(accept: str) -> tuple[bytes, str]:
    """The exposition in the format `accept` asks for (text or OpenMetrics), with its
    content type."""
    encoder, content_type = choose_encoder(_lowered_names(accept))
    return encoder(_registry()), content_type


def _lowered_names(accept: str) -> str:
    """`accept` with each media range and parameter name in lower case, values as sent.
    They are case-insensitive (RFC 9110, 8.3.1), and prometheus-client compares them as
    sent: `APPLICATION/OPENMETRICS-TEXT; VERSION=1.0.0` got the text format."""
    ranges = []
    for media_range in accept.split(","):
        media, *parameters = media_range.split(";")
        named = [_lowered_name(p) for p in parameters]
        ranges.append(";".join([media.strip().lower(), *named]))
    return ",".join(ranges)


def _lowered_name(parameter: str) -> str:
    name, equals, value = parameter.partition("=")
    return f"{name.strip().lower()}{equals}{value.strip()}"


def serve_on_port(host: str, port: int) -> None:
    """Serve the metrics from a thread of this process on their own port, away from the
    public one. Called by the process that starts the workers."""
    start_http_server(port, addr=host, registry=_registry())


def prepare_folder(workers: int, data_dir: Path) -> Path | None:
    """Before starting several workers: make sure `PROMETHEUS_MULTIPROC_DIR` names an empty
    folder, since files left by an earlier run would be counted again. When it is unset,
    make one under the data folder and return it, for the caller to remove at the end.
    With one worker and no folder given, nothing is needed."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return None
    if workers <= 1:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    made = Path(tempfile.mkdtemp(prefix="metrics-", dir=data_dir))
    os.environ[MULTIPROC_ENV] = str(made)
    return made


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def forget_process() -> None:
    """At a worker's exit: its live gauges stop counting (pool, subscribers, leadership)."""
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        multiprocess.mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]
