"""Trusted documents: the manifest of GraphQL documents that clients may send by id.

A document's id is the SHA-256 of its text, in lower-case hex: what the GraphQL over HTTP
spec's persisted documents name `sha256:<hex>` and Apollo's `persistedQuery` extension
names `sha256Hash`. The manifest is a JSON file in Apollo's persisted query manifest
format (`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
"name", "type", "body"}]}`), so a manifest that Apollo's own tooling generated from a
frontend's code loads as well as one `benefitgate documents build` made from a folder of
`.graphql` files.

Building is strict: each file holds one operation (with the fragments it uses), parses,
and validates against the schema, or the build fails naming the file, line and column.
Loading is strict too: an entry whose id is not the hash of its body is refused, so an
edited manifest cannot map a trusted id to another document.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    Source,
    parse,
    validate,
)

__all__ = ["Document", "Manifest", "ManifestError", "build_manifest", "document_id"]

FORMAT = "apollo-persisted-query-manifest"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(Exception):
    """A manifest that cannot be built or loaded; the message lists every problem."""


def document_id(text: str) -> str:
    """The SHA-256 of the document's UTF-8 text, in lower-case hex (no `sha256:` prefix)."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    name: str | None
    type: str  # query, mutation or subscription
    body: str

    def as_json(self) -> dict[str, str | None]:
        return {"id": self.id, "name": self.name, "type": self.type, "body": self.body}


class Manifest:
    """The trusted documents, by id."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self._by_id = {d.id: d for d in documents}

    def get(self, sha256_hex: str) -> Document | None:
        return self._by_id.get(sha256_hex)

    def __contains__(self, sha256_hex: object) -> bool:
        return sha256_hex in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def as_json(self) -> str:
        operations = [d.as_json() for d in sorted(self._by_id.values(), key=lambda d: d.id)]
        manifest = {"format": FORMAT, "version": 1, "operations": operations}
        return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The manifest at `path`; ManifestError when it is not one, or when an entry's
        id is not the hash of its body."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: cannot read a JSON manifest: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("version") != 1:
            raise ManifestError(f'{path}: not a manifest of format "{FORMAT}", version 1')
        entries = raw.get("operations")
        if not isinstance(entries, list):
            raise ManifestError(f"{path}: `operations` must be a list")
        documents, problems = [], []
        for index, entry in enumerate(entries):
            document = _entry(entry)
            if document is None:
                problems.append(f"{path}: operation {index}: needs a string `id` and `body`")
            elif document.id != document_id(document.body):
                problems.append(f"{path}: operation {index}: id is not the SHA-256 of its body")
            else:
                documents.append(document)
        if problems:
            raise ManifestError("\n".join(problems))
        return cls(documents)


def _entry(entry: object) -> Document | None:
    if not isinstance(entry, Mapping):
        return None
    id_, body, name = entry.get("id"), entry.get("body"), entry.get("name")
    if not isinstance(id_, str) or not isinstance(body, str):
        return None
    kind = entry.get("type")
    return Document(id_, name if isinstance(name, str) else None, str(kind or "query"), body)


def build_manifest(directory: Path, schema: GraphQLSchema) -> Manifest:
    """Every `*.graphql` file under `directory` (recursively) as one trusted document, its
    id the hash of the file's text exactly as written. ManifestError lists every file that
    does not hold exactly one operation valid against `schema`."""
    files = sorted(directory.rglob("*.graphql"))
    if not files:
        raise ManifestError(f"{directory}: no .graphql files")
    documents, problems = [], []
    for path in files:
        document, errors = _document(path, schema)
        problems += errors
        if document is not None:
            documents.append(document)
    if problems:
        raise ManifestError("\n".join(problems))
    return Manifest(documents)


def _document(path: Path, schema: GraphQLSchema) -> tuple[Document | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
        ast = parse(Source(text, str(path)))
    except UnicodeDecodeError:
        return None, [f"{path}: not UTF-8 text"]
    except GraphQLSyntaxError as exc:
        return None, [_located(path, exc)]
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return None, [f"{path}: holds {len(operations)} operations; a document holds one"]
    errors = validate(schema, ast)
    if errors:
        return None, [_located(path, e) for e in errors]
    operation = operations[0]
    name = operation.name.value if operation.name else None
    return Document(document_id(text), name, operation.operation.value, text), []


def _located(path: Path, error: GraphQLError) -> str:
    where = error.locations[0] if error.locations else None
    return f"{path}:{where.line}:{where.column}: {error.message}" if where else f"{path}: {error}"
