"""Requests that name a trusted document by id, and callers held to the manifest.

A request may send `documentId: "sha256:<hex>"` (the GraphQL over HTTP spec's persisted
documents) or `extensions.persistedQuery: {"version": 1, "sha256Hash": "<hex>"}` (Apollo's
convention) instead of `query`, over HTTP (POST body or GET parameters) and in a
graphql-transport-ws `subscribe` payload alike. Each transport asks `TrustedDocuments`
for the text to run and turns a `DocumentRefused` into its own error answer.

Roles named in `restricted` (frontends by default) may run only documents of the manifest:
by id, or as text whose hash is in it. The refusals carry Apollo's codes, so Apollo
Client's persisted query link understands them: on PERSISTED_QUERY_NOT_FOUND it sends the
text, and on PERSISTED_QUERY_NOT_SUPPORTED it stops sending ids.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from benefitgate.auth.principals import Role
from benefitgate.graphql.documents import SHA256_HEX, Manifest, document_id
from benefitgate.graphql.shapes import json_kind

__all__ = ["DocumentRefused", "TrustedDocuments", "requested_id"]

_PREFIX = "sha256:"


class DocumentRefused(Exception):
    """Why a request's document will not run: a stable code, a message and the HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def as_error(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


def _bad(message: str) -> DocumentRefused:
    return DocumentRefused("BAD_REQUEST", message, 400)


def requested_id(params: Mapping[str, Any]) -> str | None:
    """The SHA-256 (hex) the request names in `documentId` or Apollo's `persistedQuery`,
    None when it names none; a malformed or conflicting id is BAD_REQUEST."""
    named = []
    document = params.get("documentId")
    if document is not None:
        if not isinstance(document, str):
            raise _bad(f"`documentId` must be a string, not {json_kind(document)}")
        payload = document.removeprefix(_PREFIX)
        if payload == document or not SHA256_HEX.match(payload):
            raise _bad("`documentId` must be sha256: and 64 lower-case hex digits")
        named.append(payload)
    extensions = params.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    if persisted is not None:
        named.append(_apollo_hash(persisted))
    if len(set(named)) > 1:
        raise _bad("`documentId` and `extensions.persistedQuery` name different documents")
    return named[0] if named else None


def _apollo_hash(persisted: object) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise _bad("`extensions.persistedQuery` must be an object with version 1")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not SHA256_HEX.match(sha):
        raise _bad("`persistedQuery.sha256Hash` must be 64 lower-case hex digits")
    return sha


@dataclass(frozen=True, slots=True)
class TrustedDocuments:
    """The manifest (None: no documents are known by id) and the roles held to it."""

    manifest: Manifest | None = None
    restricted: Collection[Role] = frozenset()

    def query_for(self, params: Mapping[str, Any]) -> str | None:
        """The text to run for a request's parameters (`query`, `documentId`,
        `extensions`): the text sent, or the manifest's document for the id named; None
        when the request has neither (the transport's own error). Raises DocumentRefused."""
        sha = requested_id(params)
        query = params.get("query")
        if sha is not None:
            return self._text_for(sha, query)
        return query if isinstance(query, str) else None

    def check(self, query: str, role: Role) -> None:
        """Refuse (PERSISTED_QUERY_NOT_IN_LIST) a document outside the manifest from a
        caller of a restricted role."""
        if (
            self.manifest is not None
            and role in self.restricted
            and document_id(query) not in self.manifest
        ):
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_IN_LIST",
                f"{role.value} callers may send only the documents of the manifest",
                403,
            )

    def _text_for(self, sha: str, query: object) -> str:
        if isinstance(query, str):
            # Text and id together (as Apollo's link sends after PERSISTED_QUERY_NOT_FOUND):
            # the text runs, and must be the document the id names.
            if document_id(query) != sha:
                raise DocumentRefused(
                    "PERSISTED_QUERY_HASH_MISMATCH", "the id is not the SHA-256 of `query`", 400
                )
            return query
        if self.manifest is None:
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_SUPPORTED", "documents by id are not enabled here", 400
            )
        document = self.manifest.get(sha)
        if document is None:
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_FOUND", f"no trusted document sha256:{sha}", 404
            )
        return document.body
