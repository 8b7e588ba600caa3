"""Glossary use cases: define, redefine and remove a term (each audited in the caller's
transaction, with the key locked), read them all, and restore a term for a rollback.

Defining a term exactly as it reads already changes nothing and writes no entry.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.common.text import trimmed
from benefitgate.glossary import repository
from benefitgate.glossary.models import (
    KEY,
    MAX_DEFINITION,
    MAX_EXAMPLE,
    MAX_TERM,
    GlossaryTerm,
)

__all__ = ["KIND", "remove_term", "roll_back_glossary_term", "set_term", "terms"]

KIND = "glossary_term"
SET = "glossary.term_set"
REMOVED = "glossary.term_removed"


def _text(field: str, value: str, most: int, *, required: bool = True) -> str:
    cleaned = trimmed(value)  # blank: whitespace and invisible format characters
    if (required and not cleaned) or len(cleaned) > most or "\x00" in cleaned:
        least = 1 if required else 0
        raise InvalidChange(field, f"give {least} to {most} characters of text")
    return cleaned


def _snapshot(term: GlossaryTerm | None) -> dict[str, Any] | None:
    if term is None:
        return None
    return {"term": term.term, "definition": term.definition, "example": term.example}


async def terms(conn: asyncpg.Connection) -> list[GlossaryTerm]:
    return await repository.terms(conn)


async def set_term(
    conn: asyncpg.Connection,
    change: ChangeContext,
    key: str,
    term: str,
    definition: str,
    example: str = "",
    rollback_of: int | None = None,
) -> tuple[GlossaryTerm, AuditEntry | None]:
    """Define the term or redefine it; returns it with the change's audit entry (None when
    it read so already). Raises InvalidChange for a bad key or text, before writing."""
    if not KEY.fullmatch(key):
        raise InvalidChange("key", "give a key of lowercase letters, digits and _ (1 to 64)")
    wanted = (
        _text("term", term, MAX_TERM),
        _text("definition", definition, MAX_DEFINITION),
        _text("example", example, MAX_EXAMPLE, required=False),
    )
    before = await repository.lock(conn, key)
    after = await repository.upsert(conn, key, *wanted, change.at)
    if after is None:
        assert before is not None  # only an existing term can be unchanged
        return before, None
    action = "rollback" if rollback_of is not None else SET
    entry = await audit.record(
        conn, change, action, Target(KIND, key, None), _snapshot(before), _snapshot(after),
        rollback_of,
    )  # fmt: skip
    return after, entry


async def remove_term(
    conn: asyncpg.Connection, change: ChangeContext, key: str, rollback_of: int | None = None
) -> AuditEntry:
    """Remove the term. Raises TargetNotFound when there is none by that key."""
    before = await repository.lock(conn, key)
    if before is None or await repository.delete(conn, key) is None:
        raise TargetNotFound("glossary term")
    action = "rollback" if rollback_of is not None else REMOVED
    target = Target(KIND, key, None)
    return await audit.record(conn, change, action, target, _snapshot(before), None, rollback_of)


async def roll_back_glossary_term(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of a glossary entry (see `audit.rollback`): the term as it read before."""
    key = entry.target.id
    current = await repository.lock(conn, key)
    await refuse_if_changed_since(conn, entry)
    if entry.before is None:
        if current is None:
            raise InvalidChange("entryId", "the term is not defined; nothing to roll back")
        return await remove_term(conn, change, key, rollback_of=entry.id)
    b = entry.before
    _, new_entry = await set_term(
        conn, change, key, b["term"], b["definition"], b["example"], rollback_of=entry.id
    )
    if new_entry is None:
        raise InvalidChange("entryId", "the term reads so already; nothing to roll back")
    return new_entry
