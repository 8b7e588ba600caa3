"""A plain-language term of the license; frozen, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

__all__ = ["KEY", "MAX_DEFINITION", "MAX_EXAMPLE", "MAX_TERM", "GlossaryTerm"]

KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")  # as the table's check constraint
MAX_TERM = 100
MAX_DEFINITION = 2000
MAX_EXAMPLE = 1000


@dataclass(frozen=True, slots=True)
class GlossaryTerm:
    key: str  # stable, for links: `grandfathering`
    term: str  # as a reader sees it: "Grandfathering"
    definition: str
    example: str
    version: int
    updated_at: datetime
