"""The glossary: read by every caller, managed by internal tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.common.changes import ChangeContext
from benefitgate.glossary import service
from benefitgate.glossary.models import GlossaryTerm as TermModel
from benefitgate.glossary.types import (
    GlossaryTerm,
    GlossaryTermRemoved,
    GlossaryTermSet,
    term_type,
)

__all__ = ["GlossaryMutation", "GlossaryQuery"]

GlossaryTermSetResult = Annotated[
    GlossaryTermSet | ChangeError, strawberry.union("GlossaryTermSetResult")
]
GlossaryTermRemoveResult = Annotated[
    GlossaryTermRemoved | ChangeError, strawberry.union("GlossaryTermRemoveResult")
]


def _stored(term: TermModel) -> dict[str, Any]:
    return {
        "key": term.key,
        "term": term.term,
        "definition": term.definition,
        "example": term.example,
        "version": term.version,
        "updatedAt": term.updated_at.isoformat(),
    }


def _loaded(stored: dict[str, Any]) -> TermModel:
    return TermModel(
        key=stored["key"],
        term=stored["term"],
        definition=stored["definition"],
        example=stored["example"],
        version=stored["version"],
        updated_at=datetime.fromisoformat(stored["updatedAt"]),
    )


@strawberry.type
class GlossaryQuery:
    @strawberry.field(
        description="The license's terms in plain language (tier, outcome, limit, grant, "
        "grandfathering ...), alphabetically. Every caller may read it."
    )
    async def glossary(self, info: Info) -> list[GlossaryTerm]:
        async with info.context.db.acquire() as conn:
            found = await service.terms(conn)
        return [term_type(t) for t in found]


@strawberry.type
class GlossaryMutation:
    @strawberry.mutation(
        description="Define a term, or redefine it (audited; rolled back with "
        "`auditRollback`). Defining it as it reads already changes nothing. Internal tools "
        "only."
    )
    async def glossary_term_set(
        self,
        info: Info,
        key: str,
        term: str,
        definition: str,
        idempotency_key: str,
        example: str = "",
        reason: str = "",
    ) -> GlossaryTermSetResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            found, entry = await service.set_term(conn, change, key, term, definition, example)
            return {"term": _stored(found), "entryId": None if entry is None else entry.id}

        applied = await run_change(
            info,
            operation="glossaryTermSet",
            key=idempotency_key,
            reason=reason,
            arguments={"key": key, "term": term, "definition": definition, "example": example},
            effect=effect,
        )
        if not isinstance(applied, Applied):
            return applied
        entry_id = applied.result["entryId"]
        return GlossaryTermSet(
            term=term_type(_loaded(applied.result["term"])),
            audit_entry_id=None if entry_id is None else strawberry.ID(str(entry_id)),
            replayed=applied.replayed,
        )

    @strawberry.mutation(description="Remove a term (audited). Internal tools only.")
    async def glossary_term_remove(
        self, info: Info, key: str, idempotency_key: str, reason: str = ""
    ) -> GlossaryTermRemoveResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return {"entryId": (await service.remove_term(conn, change, key)).id}

        applied = await run_change(
            info,
            operation="glossaryTermRemove",
            key=idempotency_key,
            reason=reason,
            arguments={"key": key},
            effect=effect,
        )
        if not isinstance(applied, Applied):
            return applied
        return GlossaryTermRemoved(
            key=key,
            audit_entry_id=strawberry.ID(str(applied.result["entryId"])),
            replayed=applied.replayed,
        )
