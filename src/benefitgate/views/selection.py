"""Which parts of an account's view a document selects, read from the document itself, so
that the root can read them with the account in one statement."""

from __future__ import annotations

from collections.abc import Mapping

from benefitgate.api.context import Info
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

__all__ = ["GRANT_FIELDS", "USAGE_FIELDS", "account_fields"]

# Fields of `Account` that read the account's grants (`usage` through its effective limits)
# and those that read its current counters (`Loaders.usage_by_account`). A field missing here
# still loads what it needs through its loader, one statement more.
USAGE_FIELDS = frozenset({"usage", "usageSeries", "milestones"})
GRANT_FIELDS = frozenset({"entitlements", "grants"}) | USAGE_FIELDS


def account_fields(info: Info) -> set[str]:
    """The names of the fields selected directly under the resolver's own field (through
    fragments of any type: one that cannot apply costs at most a part read for nothing)."""
    raw = info._raw_info
    names: set[str] = set()
    spread: set[str] = set()
    for node in raw.field_nodes:
        _collect(node.selection_set, raw.fragments, names, spread)
    return names


def _collect(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    names: set[str],
    spread: set[str],
) -> None:
    """Adds the names selected to `names`, each fragment read once (`spread`): read at
    each of its spreads, fragments spreading the next one twice took 2^n reads."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, spread)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in spread:
            spread.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:  # validation refuses unknown fragments
                _collect(fragment.selection_set, fragments, names, spread)
