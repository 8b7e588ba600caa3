"""The trusted documents' manifest: built from .graphql files by the CLI, loaded strictly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from benefitgate.cli import main
from benefitgate.graphql.documents import Manifest, ManifestError, build_manifest, document_id
from benefitgate.graphql.schema import build_schema
from graphql import GraphQLSchema

TIERS = "query Tiers {\n  tiers { key name }\n}\n"
WITH_FRAGMENT = "query Ladder { tiers { ...T } }\nfragment T on Tier { key rank }\n"


def _schema() -> GraphQLSchema:
    return build_schema(max_depth=1, max_tokens=1, max_aliases=1, suggestions=False)._schema


def test_the_cli_builds_a_manifest_whose_ids_are_the_files_sha256(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ops" / "nested").mkdir(parents=True)
    (tmp_path / "ops" / "tiers.graphql").write_text(TIERS)
    (tmp_path / "ops" / "nested" / "ladder.graphql").write_bytes(WITH_FRAGMENT.encode())
    output = tmp_path / "manifest.json"

    main(["documents", "build", str(tmp_path / "ops"), "--output", str(output)])

    manifest = json.loads(output.read_text())
    assert manifest["format"] == "apollo-persisted-query-manifest" and manifest["version"] == 1
    entries = {e["name"]: e for e in manifest["operations"]}
    assert set(entries) == {"Tiers", "Ladder"}
    # `sha256sum file.graphql` gives the same id: the text exactly as written.
    assert entries["Tiers"]["id"] == hashlib.sha256(TIERS.encode()).hexdigest()
    assert entries["Ladder"]["body"] == WITH_FRAGMENT and entries["Ladder"]["type"] == "query"
    assert "2 documents" in capsys.readouterr().out
    assert len(Manifest.load(output)) == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("query { tiers { key } ", "Syntax Error"),
        ("query { tiers { nope } }", "Cannot query field 'nope'"),
        ("query A { tiers { key } }\nquery B { tiers { key } }", "holds 2 operations"),
        ("fragment T on Tier { key }", "holds 0 operations"),
    ],
)
def test_a_file_that_is_not_one_valid_operation_fails_the_build_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    (tmp_path / "good.graphql").write_text(TIERS)
    (tmp_path / "bad.graphql").write_text(text)

    with pytest.raises(SystemExit) as exited:
        main(["documents", "build", str(tmp_path), "--output", str(tmp_path / "m.json")])

    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.graphql'}" in err and problem in err
    assert "good.graphql" not in err
    assert not (tmp_path / "m.json").exists()


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no \.graphql files"):
        build_manifest(tmp_path, _schema())


def test_a_manifest_entry_whose_id_is_not_its_bodys_hash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    entry = {"id": document_id(TIERS), "name": "Tiers", "type": "query", "body": TIERS}
    swapped = {**entry, "body": "query { accounts { __typename } }"}
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                                "operations": [entry, swapped]}))  # fmt: skip

    with pytest.raises(ManifestError, match="operation 1: id is not the SHA-256 of its body"):
        Manifest.load(path)


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"format": "other", "version": 1, "operations": []}',
     '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [1]}'],
)  # fmt: skip
def test_a_file_that_is_not_a_manifest_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content)

    with pytest.raises(ManifestError):
        Manifest.load(path)


def test_a_manifest_from_apollos_generator_loads(tmp_path: Path) -> None:
    # The shape `@apollo/generate-persisted-query-manifest` writes: the printed operation,
    # its id the body's SHA-256, with a name and a type.
    body = "query Tiers {\n  tiers {\n    key\n    __typename\n  }\n}"
    path = tmp_path / "persisted-query-manifest.json"
    operation = {"id": document_id(body), "name": "Tiers", "type": "query", "body": body}
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                                "operations": [operation]}))  # fmt: skip

    manifest = Manifest.load(path)

    document = manifest.get(document_id(body))
    assert document is not None and document.body == body
