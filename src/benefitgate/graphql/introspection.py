"""Introspection by role: `__schema` and `__type` are validation errors
(INTROSPECTION_DISABLED) for callers whose role is not allowed it. `__typename` stays.

The rule joins the validation rules of the caller's request, so the validation cache
keeps one entry per document and rule set: a refused document is not validated anew.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    ValidationRule,
    get_named_type,
    is_introspection_type,
)

__all__ = ["NoIntrospection"]


class NoIntrospection(ValidationRule):
    """Reports every field whose type is an introspection type (`__schema`, `__type`)."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        field_type = get_named_type(self.context.get_type())
        if field_type is not None and is_introspection_type(field_type):
            self.report_error(
                GraphQLError(
                    f"introspection is disabled for this caller ('{node.name.value}')",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )
