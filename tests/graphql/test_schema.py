from pathlib import Path

from benefitgate.cli import main

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code(tmp_path: Path) -> None:
    exported = tmp_path / "schema.graphql"
    main(["export-schema", "--output", str(exported)])

    assert exported.read_text() == SCHEMA.read_text(), (
        "schema.graphql is stale: run `benefitgate export-schema --output schema.graphql`"
    )
