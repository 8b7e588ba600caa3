"""`Benefitgate`: queries and mutations over HTTP, events over graphql-transport-ws."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import WebSocketException

from benefitgate_client import documents
from graphql import GraphQLSchema, build_schema

__all__ = ["Benefitgate", "StreamRefused"]

# Waits between attempts to resume a dropped stream: doubling from 0.1 s, at most 5 s.
FIRST_PAUSE, LONGEST_PAUSE = 0.1, 5.0


class StreamRefused(Exception):
    """A refusal no retry mends: an account the credential may not see, a revoked one."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def load_schema(path: Path) -> GraphQLSchema:
    """The service's schema (`schema.graphql`), to validate documents before sending."""
    return build_schema(path.read_text())


class Benefitgate:
    """One service, one credential (a frontend token or an API key)."""

    def __init__(self, url: str, credential: str, schema: GraphQLSchema | None = None) -> None:
        self.url, self.schema = url, schema
        self._headers = {"authorization": f"Bearer {credential}"}
        self._requests = {
            name: GraphQLRequest(text)
            for name, text in (
                ("usage", documents.ACCOUNT_USAGE),
                ("consume", documents.USAGE_CONSUME),
                ("events", documents.ACCOUNT_EVENTS),
            )
        }

    async def account_usage(self, account_id: str) -> dict[str, Any]:
        """The account with its tier and usage, or its typed error (`NotFoundError`...)."""
        return await self._execute("usage", {"id": account_id}, "account")

    async def consume(
        self, account_id: str, metric: str, amount: float, idempotency_key: str
    ) -> dict[str, Any]:
        """Consume `amount` of `metric` if the limit allows. Retry with the same key after
        any failure: a result the service already committed is replayed (`replayed`),
        never consumed twice."""
        variables = {
            "id": account_id,
            "metric": metric,
            "amount": amount,
            "idempotencyKey": idempotency_key,
        }
        return await self._execute("consume", variables, "usageConsume")

    async def follow_events(
        self,
        account_ids: list[str] | None = None,
        after: str | None = None,
        on_interruption: Callable[[str], None] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The events after `after`, in cursor order, for ever: each drop (a lost socket, a
        replica's restart, a stream the server closed) resumes from the cursor of the last
        event yielded, so none is missed and none repeated. With `after` None the stream
        starts now, and a drop before the first event resumes from the moment it
        reconnects: keep a cursor to miss nothing. Raises StreamRefused on a refusal no
        retry mends, and gql's TransportQueryError on a document the service refuses."""
        pause = FIRST_PAUSE
        while True:
            try:
                async with self._socket() as session:
                    variables = {"ids": account_ids, "after": after}
                    request = self._request("events", variables)
                    async for result in session.subscribe(request):
                        member = result["events"]
                        pause = FIRST_PAUSE
                        after = _resume_point(member, on_interruption)
                        if member["__typename"] == "Event":
                            yield member
            except TransportQueryError:
                raise  # the service refused the operation itself: retrying cannot mend it
            except (TransportError, WebSocketException, OSError) as exc:
                if on_interruption is not None:
                    on_interruption(type(exc).__name__)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def execute(
        self, document: str | GraphQLRequest, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Any query or mutation; with a schema, a document it would refuse raises
        graphql.GraphQLError here, before anything is sent."""
        request = GraphQLRequest(document, variable_values=variables)
        transport = AIOHTTPTransport(url=self.url, headers=self._headers)
        async with Client(transport=transport, schema=self.schema) as session:
            result: dict[str, Any] = await session.execute(request)
        return result

    def _request(self, name: str, variables: dict[str, Any]) -> GraphQLRequest:
        return GraphQLRequest(self._requests[name].document, variable_values=variables)

    async def _execute(self, name: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        found: dict[str, Any] = (await self.execute(self._request(name, variables)))[root]
        return found

    def _socket(self) -> Client:
        transport = WebsocketsTransport(
            url=self.url.replace("http", "ws", 1),
            init_payload=self._headers,
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            close_timeout=1,
        )
        return Client(transport=transport, schema=self.schema)


def _resume_point(member: dict[str, Any], on_interruption: Callable[[str], None] | None) -> str:
    """Where the stream resumes once this member is handled."""
    kind = member["__typename"]
    if kind == "Event":
        cursor: str = member["cursor"]
        return cursor
    if kind == "StreamClosedError" and member["retryable"]:
        resume: str = member["resumeAfter"]
    elif kind == "CursorExpiredError":  # what was pruned is gone: on from the oldest kept
        resume = member["horizon"]
    else:
        raise StreamRefused(member["code"], member["message"])
    if on_interruption is not None:
        on_interruption(member.get("code", kind))
    return resume
