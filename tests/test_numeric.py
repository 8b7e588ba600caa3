"""numeric on every connection: a float bound to one is the decimal its repr writes; a
Decimal or an int is exact; what Postgres sends back decodes as asyncpg's own decoder
would have it."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

FLOATS = [0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, 1e308]
FLOATS += [1.7976931348623157e308, 1e15, 123456.789, 9007199254740993.0, 2.5, -0.3, 0.0]


@pytest.fixture
async def plain(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection with asyncpg's own numeric codec."""
    connection = await asyncpg.connect(dsn)
    yield connection
    await connection.close()


async def test_a_float_is_the_decimal_its_repr_writes(conn: asyncpg.Connection) -> None:
    for value in [*FLOATS, *(-v for v in FLOATS)]:
        stored = await conn.fetchval("select $1::numeric", value)
        assert stored == Decimal(repr(value)), value
        assert float(stored) == value
    # 5e-324 was a numeric of 751 significant digits; 0.1 one of 55.
    assert await conn.fetchval("select $1::numeric::text", 0.1) == "0.1"
    assert await conn.fetchval("select length($1::numeric::text)", 5e-324) == 326
    assert await conn.fetchval("select $1::numeric::text", 1e308) == "1" + "0" * 308
    assert await conn.fetchval("select $1::numeric::text", -0.0) == "0.0"
    assert await conn.fetchval("select $1::numeric::text", math.inf) == "Infinity"
    assert await conn.fetchval("select $1::numeric::text", -math.inf) == "-Infinity"
    assert await conn.fetchval("select $1::numeric::text", math.nan) == "NaN"
    assert await conn.fetchval("select $1::numeric + $1 + $1 = $2", 0.1, 0.3)


async def test_floats_in_arrays_and_copies_are_their_repr_too(conn: asyncpg.Connection) -> None:
    assert await conn.fetchval("select $1::numeric[]", [0.1, None, Decimal("1.50"), 3]) == [
        Decimal("0.1"),
        None,
        Decimal("1.50"),
        Decimal(3),
    ]
    assert await conn.fetchval("select sum(x) from unnest($1::numeric[]) x", [0.1] * 3) == Decimal(
        "0.3"
    )
    await conn.execute("create temporary table copied (value numeric, small numeric(3, 2))")
    await conn.copy_records_to_table(
        "copied", records=[(0.1, 0.125), (Decimal("2.50"), 1)], columns=["value", "small"]
    )
    rows = await conn.fetch("select value::text, small::text from copied")
    assert [tuple(r) for r in rows] == [("0.1", "0.13"), ("2.50", "1.00")]


def _numerics(rng: random.Random, count: int) -> list[str]:
    texts = ["0", "0.00", "1", "10000", "1e20", "-1e-20", "0.0001", "1000.0001", "12.3400"]
    texts += ["NaN", "Infinity", "-Infinity", "1e-1000", "99999999", "123456789.123456789"]
    for _ in range(count):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
        texts.append(f"{rng.choice('-+')}{digits}e{rng.randint(-60, 60)}")
    return texts


async def test_decimals_and_ints_are_exact_and_numerics_decode_as_before(
    conn: asyncpg.Connection, plain: asyncpg.Connection
) -> None:
    texts = _numerics(random.Random(7), 400)
    # What Postgres sends, decoded by both: the same digits and exponent.
    ours = await conn.fetchval("select array_agg(t::numeric) from unnest($1::text[]) t", texts)
    theirs = await plain.fetchval("select array_agg(t::numeric) from unnest($1::text[]) t", texts)
    assert [str(d) for d in ours] == [str(d) for d in theirs]
    assert all(type(d) is Decimal for d in ours)
    # A Decimal (or an int) sent by both: the same numeric on the server.
    decimals = [Decimal(t) for t in texts]
    ints = [0, 7, -12345678901234567890, 10**40]
    query = "select array_agg(x::text) from unnest($1::numeric[]) x"
    assert await conn.fetchval(query, decimals) == await plain.fetchval(query, decimals)
    assert await conn.fetchval(query, ints) == await plain.fetchval(query, ints)
