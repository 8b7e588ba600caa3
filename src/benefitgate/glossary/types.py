"""GraphQL types of the glossary."""

from __future__ import annotations

from datetime import datetime

import strawberry

from benefitgate.glossary import models

__all__ = ["GlossaryTerm", "GlossaryTermRemoved", "GlossaryTermSet", "term_type"]


@strawberry.type(description="A term of the license explained in plain language.")
class GlossaryTerm:
    key: str = strawberry.field(description="Stable, for links: `grandfathering`.")
    term: str
    definition: str
    example: str = strawberry.field(description="An example from practice; may be empty.")
    version: int = strawberry.field(description="How many times the term was (re)defined.")
    updated_at: datetime


@strawberry.type
class GlossaryTermSet:
    term: GlossaryTerm
    audit_entry_id: strawberry.ID | None = strawberry.field(
        description="Null when the term read so already (nothing changed)."
    )
    replayed: bool


@strawberry.type
class GlossaryTermRemoved:
    key: str
    audit_entry_id: strawberry.ID
    replayed: bool


def term_type(t: models.GlossaryTerm) -> GlossaryTerm:
    return GlossaryTerm(
        key=t.key,
        term=t.term,
        definition=t.definition,
        example=t.example,
        version=t.version,
        updated_at=t.updated_at,
    )
