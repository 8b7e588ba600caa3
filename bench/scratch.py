"""The database a benchmark seeds, dropped when the benchmark ends, however it ends.

A benchmark's database (`bg_bench_*`, some hundreds of megabytes) is of no use once its
figures are printed, and one left behind by a run that failed or was interrupted is never
found again. `scratch_database` names one and arranges, at the process's exit, for it and
its copies (`<name>_*`) to be dropped and an embedded server to be stopped after that:
on a normal end, an exception, Ctrl-C, and SIGTERM (which becomes SystemExit, so that the
exit handlers run). Only SIGKILL leaves one behind.
"""

from __future__ import annotations

import asyncio
import atexit
import signal
import sys
import uuid
from types import FrameType

from benefitgate import db

__all__ = ["scratch_database"]


def scratch_database(
    server: str, embedded: db.EmbeddedPostgres | None = None, prefix: str = "bg_bench"
) -> str:
    """A new database name on `server`, dropped (with its copies) at exit; `embedded`, the
    server's own process if the benchmark started one, is stopped after the drop."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    signal.signal(signal.SIGTERM, _exit_on_term)
    atexit.register(_drop_then_stop, server, name, embedded)
    return name


def _exit_on_term(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _drop_then_stop(server: str, name: str, embedded: db.EmbeddedPostgres | None) -> None:
    try:
        dropped = asyncio.run(_drop(server, name))
        if dropped:
            print(f"dropped {', '.join(dropped)}", file=sys.stderr)
    except Exception as exc:  # at exit there is no one left to raise to
        print(f"could not drop {name}: {exc!r}", file=sys.stderr)
    finally:
        if embedded is not None:
            embedded.stop()


async def _drop(server: str, name: str) -> list[str]:
    admin = await db.connect(server)
    try:
        names: list[str] = [
            r["datname"]
            for r in await admin.fetch(
                """select datname from pg_database
                   where datname = $1 or starts_with(datname, $1 || '_')""",
                name,
            )
        ]
        for each in names:
            await admin.execute(f'drop database if exists "{each}" with (force)')
        return names
    finally:
        await admin.close()
