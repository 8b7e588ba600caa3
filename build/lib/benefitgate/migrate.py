"""Forward-only SQL migrations from sql/migrations, applied under an advisory lock.

Each file is recorded with its checksum. An applied file whose content changed is refused:
migrations are never edited after they land.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = ["Migration", "MigrationError", "apply_migrations", "load_migrations", "pending"]

# Any constant works; it only has to be the same in every process of the deployment.
_LOCK_KEY = 0x42656E65  # "Bene"

_CREATE_LEDGER = """
create table if not exists schema_migrations (
    version    integer primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now()
)
"""


class MigrationError(RuntimeError):
    """The database and the migration files disagree; never fixed automatically."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    override = os.environ.get("BENEFITGATE_MIGRATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "sql" / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Files named NNNN_description.sql, in version order."""
    found = []
    for path in sorted((directory or migrations_dir()).glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit():
            raise MigrationError(f"migration file {path.name} does not start with a number")
        found.append(Migration(int(number), name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def _applied(conn: asyncpg.Connection) -> dict[int, str]:
    rows = await conn.fetch("select version, checksum from schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


def _check_unchanged(known: list[Migration], applied: dict[int, str]) -> None:
    for migration in known:
        checksum = applied.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} was changed after it "
                "was applied; add a new migration instead of editing it"
            )


async def apply_migrations(conn: asyncpg.Connection, directory: Path | None = None) -> list[int]:
    """Apply every pending migration in one transaction; return the versions applied.

    Safe to call from several processes at once: the advisory lock serialises them and the
    later ones find nothing to do.
    """
    known = load_migrations(directory)
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_CREATE_LEDGER)
        applied = await _applied(conn)
        _check_unchanged(known, applied)
        done = []
        for migration in known:
            if migration.version in applied:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            done.append(migration.version)
        return done


async def pending(conn: asyncpg.Connection, directory: Path | None = None) -> list[int]:
    """Versions not yet applied; raises MigrationError if an applied one was changed."""
    known = load_migrations(directory)
    exists = await conn.fetchval("select to_regclass('schema_migrations') is not null")
    applied = await _applied(conn) if exists else {}
    _check_unchanged(known, applied)
    return [m.version for m in known if m.version not in applied]
