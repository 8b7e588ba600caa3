"""How the GraphQL view reads JSON: a POST body, and GET's `variables` and `extensions`.

Every JSON the view reads must be an object; text Postgres cannot hold (a NUL) or that is
not Unicode (a lone surrogate escape) is a 400 that says why, before any field is read.
A mixin, ahead of strawberry's view in the bases, so that its parsers are the view's.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.http.base import BaseView
from strawberry.http.types import QueryParams

from benefitgate.graphql.shapes import json_kind
from benefitgate.graphql.unstorable import UnstorableText, may_hold_nul, path_to_nul

__all__ = ["JSONParameters"]


class JSONParameters(BaseView[Request | WebSocket]):
    """Strawberry's view's JSON parsers, refusing what the view cannot serve."""

    def parse_json(self, data: str | bytes) -> dict[str, Any]:
        """A JSON object: what every JSON this view reads must be (a POST body, GET's
        `variables` and `extensions`); anything else is a 400, before any field is read."""
        try:
            decoded = super().parse_json(data)
        except HTTPException as exc:
            # Strawberry says it could not parse the body; say what is wrong with it instead.
            if isinstance(exc.__cause__, UnstorableText):
                raise HTTPException(400, exc.__cause__.msg) from exc.__cause__
            raise
        if not isinstance(decoded, dict):
            raise HTTPException(400, f"expected a JSON object, not {json_kind(decoded)}")
        return decoded

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        """A GET's parameters, its `variables` and `extensions` read as JSON objects; a 400
        that names the parameter otherwise (strawberry's message spoke of a request body,
        which a GET does not have)."""
        read: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if read.get(name):
                try:
                    read[name] = self.parse_json(read[name])
                except HTTPException as exc:
                    cause = exc.__cause__
                    unreadable = isinstance(cause, json.JSONDecodeError) and not isinstance(
                        cause, UnstorableText
                    )
                    problem = " is not JSON" if unreadable else f": {exc.reason}"
                    raise HTTPException(400, f"the `{name}` parameter{problem}") from exc
        return read

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses text that is not Unicode (a lone surrogate escape such as "\ud800")
        # as unparsable JSON, a 400; json.loads let it through to the database driver, whose
        # encoder failed with an unexpected error. It also parses a batch of a thousand
        # usage events in about 0.3 ms instead of 0.6 ms.
        decoded = orjson.loads(data)
        if may_hold_nul(data):
            path = path_to_nul(decoded)
            if path is not None:
                raise UnstorableText(path)
        return decoded
