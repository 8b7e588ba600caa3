"""Benchmark: the connection's numeric codec (`db.init_connection`) against asyncpg's own,
reading and sending 100,000 numerics, in the same run.

The service's codec sends a float as the decimal its repr writes (asyncpg's own sends the
float's exact binary expansion) and is written in Python; asyncpg's is compiled. The
floor here is asyncpg's own codec on a plain connection.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/numeric_codec.py
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg

from benefitgate import db

ROWS = 100_000
ROUNDS = 3
READ = "select (random() * 1000)::numeric(12, 2) from generate_series(1, 100000)"
SEND = "select cardinality($1::numeric[])"


async def timed(conn: asyncpg.Connection, read: bool) -> float:
    """Seconds a row (or a value sent) takes, the best of ROUNDS."""
    values = [i / 10 for i in range(ROWS)]
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        if read:
            await conn.fetch(READ)  # ROWS rows
        else:
            await conn.fetchval(SEND, values)
        best = min(best, time.perf_counter() - started)
    return best / ROWS


async def main() -> None:
    dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    floor = await asyncpg.connect(dsn)  # asyncpg's own codecs
    service = await db.connect(dsn)  # the service's
    try:
        for what, read in (("read", True), ("sent", False)):
            plain, ours = await timed(floor, read), await timed(service, read)
            print(
                f"numeric {what}: service codec {ours * 1e6:.2f} µs a value,"
                f" asyncpg's own (floor) {plain * 1e6:.2f} µs: {(ours - plain) * 1e6:+.2f} µs"
            )
    finally:
        await floor.close()
        await service.close()


if __name__ == "__main__":
    asyncio.run(main())
