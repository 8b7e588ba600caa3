"""Cache keys: one per (schema version, caller scope, document, operation, variables)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["response_key"]


def response_key(
    schema_version: str,
    scope: str,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> str:
    """A digest of everything a query's answer depends on besides the data. Variables are
    canonical (keys sorted at every depth), so `{"a":1,"b":2}` and `{"b":2,"a":1}` share
    an entry; an absent `variables` and an empty one too."""
    document = hashlib.blake2b(query.encode(), digest_size=16).digest()
    material = orjson.dumps(
        [schema_version, scope, operation_name, document.hex(), variables or {}],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.blake2b(material, digest_size=20).hexdigest()
