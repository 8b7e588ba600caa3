"""What counts as blank in a client's text, and how a refusal quotes it."""

from __future__ import annotations

import pytest

from benefitgate.common.text import QUOTED, a_or_an, counted, is_blank, quoted, trimmed

# Invisible format characters (category Cf): zero-width space, word joiner, byte order
# mark, left-to-right mark, soft hyphen, zero-width non-joiner.
FORMAT = ["\u200b", "\u2060", "\ufeff", "\u200e", "\u00ad", "\u200c"]


@pytest.mark.parametrize("char", [*FORMAT, "\u3000", "\u00a0", "\u2028", "\t"])
def test_whitespace_and_format_characters_alone_are_blank(char: str) -> None:
    assert is_blank(char)
    assert is_blank(f" {char}\n{char} ")
    assert trimmed(f"{char} Tier {char}") == "Tier"


def test_text_between_blanks_is_kept_as_given() -> None:
    assert not is_blank("x")
    assert trimmed("\u200b a\u200bb \u2060") == "a\u200bb"  # inside, a blank is text
    assert trimmed("👩\u200d💻") == "👩\u200d💻"  # a joiner inside an emoji sequence


def test_a_quote_is_cut_to_its_bound_with_an_ellipsis() -> None:
    assert quoted("pro") == "'pro'"
    assert quoted("x" * QUOTED) == repr("x" * QUOTED)
    long = quoted("x" * 100_000)
    assert long == repr("x" * QUOTED + "\u2026")
    assert len(long) == QUOTED + 3


def test_a_message_names_a_thing_with_its_article_and_counts_in_number() -> None:
    nouns = ("account", "outcome", "outcome_target", "metric", "unique_count", "usage_threshold")
    assert [a_or_an(n) for n in nouns] == [
        "an account", "an outcome", "an outcome_target", "a metric", "a unique_count",
        "a usage_threshold",
    ]  # fmt: skip
    assert a_or_an("unknown") == "an unknown" and a_or_an("error") == "an error"
    assert [counted(n, "more user") for n in (0, 1, 2)] == [
        "0 more users", "1 more user", "2 more users",
    ]  # fmt: skip
    assert counted(1, "day") == "1 day" and counted(3, "entry", "entries") == "3 entries"
