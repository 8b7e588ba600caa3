from pathlib import Path

from benefitgate.cli import main

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code(tmp_path: Path) -> None:
    exported = tmp_path / "schema.graphql"
    main(["export-schema", "--output", str(exported)])

    assert exported.read_text() == SCHEMA.read_text(), (
        "schema.graphql is stale: run `benefitgate export-schema --output schema.graphql`"
    )


POSSIBLE_TYPES = SCHEMA.parent / "possible-types.json"


def test_committed_possible_types_match_the_schema(tmp_path: Path) -> None:
    exported = tmp_path / "possible-types.json"
    main(["export-possible-types", "--output", str(exported)])

    assert exported.read_text() == POSSIBLE_TYPES.read_text(), (
        "possible-types.json is stale: run "
        "`benefitgate export-possible-types --output possible-types.json`"
    )
    assert '"Error": [' in exported.read_text()  # the interface every typed error implements
