"""Cache keys: one per (schema version, caller scope, document, operation, variables)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["request_digest", "response_key"]


def request_digest(
    schema_version: str, query: str, operation_name: str | None, variables: dict[str, Any] | None
) -> bytes:
    """A digest of everything a query's answer depends on besides the data and the caller.
    Variables are canonical (keys sorted at every depth), so `{"a":1,"b":2}` and
    `{"b":2,"a":1}` share an entry; an absent `variables` and an empty one too. Raises
    TypeError for variables nested deeper than orjson encodes."""
    document = hashlib.blake2b(query.encode(), digest_size=16).digest()
    material = orjson.dumps(
        [schema_version, operation_name, document.hex(), variables or {}],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.blake2b(material, digest_size=20).digest()


def response_key(scope: str, request: bytes) -> str:
    """The key of one caller scope's answer to the request `request_digest` gave (a
    fixed-length prefix, so no two pairs run together)."""
    return hashlib.blake2b(request + scope.encode(), digest_size=20).hexdigest()
