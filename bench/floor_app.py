"""The floor: a bare Starlette endpoint answering a fixed JSON body of a given size."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = open(os.environ["FLOOR_BODY_FILE"], "rb").read()  # noqa: SIM115 -- read once at import


async def graphql(request: Request) -> Response:
    await request.body()
    return Response(_BODY, media_type="application/json")


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
