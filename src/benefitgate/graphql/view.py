"""The HTTP/WebSocket view: authentication first, then GraphQL over HTTP status codes.

Requests that never executed (unparsable body, syntax or validation errors) get 4xx with
`application/graphql-response+json` when the client accepts it, as the GraphQL over HTTP
spec asks; a mutation sent by GET gets 405 with `Allow: POST`, a subscription sent by
either method 400 naming the WebSocket endpoint. HEAD is answered as GET
(the server sends the headers without the body), as HTTP asks of a resource that GET reads.

WebSocket connections speak only `graphql-transport-ws` and authenticate in
`connection_init` (payload `{"authorization": "Bearer ..."}`) with the HTTP rules, and
again at every `subscribe`; a refused credential closes the connection with 4403.

A request may name a trusted document by id instead of sending its text (see
`graphql.persisted`); a refusal answers with its own status and code, without `data`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from benefitgate.api.context import Context
from benefitgate.auth.principals import Principal, Role, Unauthenticated
from benefitgate.cache.local import Entry
from benefitgate.cache.responses import etag_of
from benefitgate.common.text import quoted
from benefitgate.db import unavailable
from benefitgate.events.written import recording
from benefitgate.graphql import ide
from benefitgate.graphql.fast.checks import CheckPath, CheckPlan, may_name_a_check
from benefitgate.graphql.fast.delivery import LiveTransportHandler, SubscribeLimiter
from benefitgate.graphql.fast.queries import QueryFailure, QueryPath, QueryPlan
from benefitgate.graphql.known import MAX_BODY, Known, KnownRequests, Params
from benefitgate.graphql.masking import masked
from benefitgate.graphql.observe import operation_failed, operation_succeeded
from benefitgate.graphql.parameters import JSONParameters
from benefitgate.graphql.persisted import DocumentRefused, TrustedDocuments
from benefitgate.graphql.quick import FAILED, GAVE_UP, QuickAnswers, read_body
from benefitgate.graphql.response_cache import (
    EXCHANGE,
    CachedQuery,
    Exchange,
    ResponseFront,
    cached_response,
    exchange_of,
    http_cache_headers,
    matches,
)
from benefitgate.graphql.responses import (
    GRAPHQL_RESPONSE,
    accepts,
    error_response,
    refusal,
    unavailable_response,
    wants_graphql_response,
)
from benefitgate.graphql.shapes import (
    foreign_charset,
    is_json_body,
    json_kind,
    media_type_of,
    request_problem,
)

__all__ = ["PRINCIPAL", "REFUSED", "GraphQLView"]

log = logging.getLogger("benefitgate.graphql")

# The scope key of a request's principal. Not `request.state`: that is the lifespan's state,
# which a server may share between requests (asgi-lifespan does).
PRINCIPAL = "benefitgate.principal"
# Where the rate limit in front leaves the refusal of the request's credential, which the
# view answers as it stands rather than verify the credential a second time.
REFUSED = "benefitgate.refused"

AuthenticateHeader = Callable[[str | None], Awaitable[Principal]]
MakeContext = Callable[[Request | None, Principal], Context]


# A WebSocket's principal until `connection_init` authenticates it. It sees no account, and
# strawberry runs no operation before the connection is acknowledged anyway.
_NOT_YET_AUTHENTICATED = Principal(Role.FRONTEND, subject="websocket-before-init")


# GET parameters that name a document to run: a request with one is never the IDE's page.
_DOCUMENT_PARAMETERS = ("query", "documentId", "extensions")
# Request errors' codes by status where BAD_REQUEST would say less (as POST /events says).
_HTTP_CODES = {415: "UNSUPPORTED_MEDIA_TYPE"}

SUBSCRIPTION_OVER_HTTP = (
    "subscriptions are not served over HTTP: open a WebSocket to this same URL (ws:// or "
    "wss://, subprotocol graphql-transport-ws) and send the subscription there"
)

# Where a request's context is kept: in its own scope. Not `request.state`, which is the
# lifespan's state dict, and which some servers (asgi-lifespan's, in tests) share between
# concurrent requests instead of copying it for each.
_CONTEXT = "benefitgate.context"


class GraphQLView(JSONParameters, GraphQL[Context, None]):
    graphql_transport_ws_handler_class = LiveTransportHandler

    def __init__(
        self,
        *args: Any,
        authenticate_header: AuthenticateHeader,
        make_context: MakeContext,
        documents: TrustedDocuments | None = None,
        limiter: SubscribeLimiter | None = None,
        front: Callable[[], ResponseFront | None] = lambda: None,
        checks: CheckPath | None = None,
        queries: QueryPath | None = None,
        **kwargs: Any,
    ) -> None:
        """`front` finds the response cache (built in the app's lifespan), if any;
        `checks` answers check documents in front of strawberry, `queries` view documents."""
        super().__init__(*args, **kwargs)
        self.checks = checks
        self.queries = queries
        self._authenticate_header = authenticate_header
        self._make_context = make_context
        self.documents = documents or TrustedDocuments()
        self.limiter = limiter  # takes a token for each WebSocket `subscribe`
        self.known = KnownRequests()
        self.quick = QuickAnswers(
            self.known, checks, queries, front, make_context, self.encode_json
        )
        self._front = front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Read whole first: a repeated hit or check is answered from its bytes (`quick`).
        body, receive = await read_body(receive) if scope["method"] == "POST" else (None, receive)
        if scope["method"] == "HEAD":
            # Strawberry knows only GET and POST, and answered HEAD 405 with `Allow: POST`
            # although GET works. A copy: the server's own scope still says HEAD, so it sends
            # no body, and the access log names the method the client used.
            scope = {**scope, "method": "GET"}
        if scope["method"] == "GET":
            page = Request(scope, receive)
            if self._is_ide_request(page):
                await (await self.render_graphql_ide(page))(scope, receive, send)
                return
        front = self._front()
        request: Request | None = None  # built once a known request was not answered
        try:
            principal = scope.get(PRINCIPAL)  # the rate limit in front may have found it
            if scope.get(REFUSED) is not None:
                raise scope[REFUSED]
            if principal is None:
                principal = scope[PRINCIPAL] = await self._authenticate_header(
                    _authorization(scope)
                )
            if body is not None and await self.quick.answer(scope, principal, body, receive, send):
                return
            request = Request(scope, receive)
            known = await self._read(request, principal, front)
            checked, plan = await self._fast_check(request, principal, known)
            if checked is not None:
                response = checked
            elif front is None:
                response = await self._execute(request, principal, known)
            else:
                response = await self._through_cache(front, request, principal, known)
            if checked is None and plan is not None and exchange_of(request).clean:
                plan.accepted.add(principal.role)  # it passed validation: see `fast.checks`
        except Unauthenticated as exc:
            response = error_response(
                401, str(exc), "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"}
            )
        except HTTPException as exc:
            headers = {"Allow": "POST"} if exc.status_code == 405 else None
            code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
            response = error_response(exc.status_code, exc.reason, code, headers)
        except DocumentRefused as exc:
            assert request is not None  # refused reading the request's parameters
            response = refusal(request, exc)
        except Exception as exc:
            # The database lost before execution (an API key's lookup): nothing executed,
            # so no `data`, and a 503 that says when to retry. Execution errors never get
            # here; they are masked in the result (`graphql.schema`).
            if not unavailable(exc):
                raise
            log.warning("database unavailable authenticating: %r", exc)
            response = unavailable_response()
        finally:
            # The request's one pooled connection goes back before the response is sent.
            # (Out of the scope, too: the context refers to the request, whose scope this is.)
            context = scope.pop(_CONTEXT, None)
            if context is not None:
                await context.db.release()
        # Out of the scope: it refers to the context, which refers to the request.
        exchange = scope.pop(EXCHANGE, None) or Exchange()
        pending, context = exchange.pending, exchange.context
        clean = response.status_code in (200, 304) and exchange.clean
        if front is None or pending is None or context is None or not clean:
            await response(scope, receive, send)
            return
        front.storing += 1
        try:
            await response(scope, receive, send)  # the client need not wait for the store
            await front.store(pending, context, exchange.body)
        finally:
            front.storing -= 1

    async def _read(
        self, request: Request, principal: Principal, front: ResponseFront | None
    ) -> Known | None:
        """The request's parameters, read as strawberry would read them and past the
        trusted documents' rule for the caller's role (`graphql.known` keeps them under
        the request's bytes); None for a request strawberry must answer (a refusal), or
        that neither the cache nor a path in front of strawberry (checks, view documents)
        could take."""
        if front is None and not await self._may_run_ahead(request):
            return None
        return await self.known.read(
            request, principal.role, lambda: self._parameters(request, principal)
        )

    async def _may_run_ahead(self, request: Request) -> bool:
        """Whether the request may be a document a path in front of strawberry answers, and
        so worth reading before it: a view document is a small request (a usage batch of a
        megabyte is not decoded twice), a check is a POST that names one."""
        if request.method == "GET":
            return self.queries is not None
        if request.method != "POST":
            return False
        body = await request.body()
        if self.queries is not None and len(body) <= MAX_BODY:
            return True
        return self.checks is not None and may_name_a_check(body)

    async def _parameters(self, request: Request, principal: Principal) -> Params | None:
        """The query, operation name and variables of a request strawberry would run as
        sent: read by `parse_http_body`, and past the trusted documents' rule for the
        caller's role. None for any other (strawberry answers it, uncached). A hit skips
        execution, so it must skip nothing else: the cache read its own parameters, and
        a hit answered 200 what a miss refused (a document id that is not the text's, a
        malformed `extensions`, a media type that is not JSON)."""
        try:
            data = await self.parse_http_body(self.request_adapter_class(request))
            if not isinstance(data, GraphQLRequestData) or data.query is None:
                return None
            self.documents.check(data.query, principal.role)
        except (HTTPException, DocumentRefused):
            return None
        return data.query, data.operation_name, data.variables

    async def _fast_check(
        self, request: Request, principal: Principal, known: Known | None
    ) -> tuple[Response | None, CheckPlan | None]:
        """A check document answered from its snapshot (`graphql.fast.checks`), as
        strawberry would have answered it; None when strawberry must, with the document's
        plan if it is a check (to learn that it ran cleanly for the caller's role)."""
        if self.checks is None or known is None or request.method != "POST":
            return None, None
        plan, arguments = known.once("check", self.checks.worked_out)
        if plan is None or principal.role not in plan.accepted or arguments is None:
            return None, plan
        started = time.perf_counter()
        context = request.scope[_CONTEXT] = self._make_context(request, principal)
        data = await self.checks.answer(plan, context, arguments)
        if data is None:
            del request.scope[_CONTEXT]
            await context.db.release()
            return None, plan
        operation_succeeded(plan.operation_label, "query", time.perf_counter() - started)
        exchange_of(request).clean = True
        # As `create_response` makes it for a result with data and no errors.
        media = GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json"
        return Response(self.encode_json({"data": data}), media_type=media), plan

    async def _through_cache(
        self, front: ResponseFront, request: Request, principal: Principal, known: Known | None
    ) -> Response:
        """A cacheable query from the cache or executed (and kept for storing); anything
        else executed with its writes recorded and invalidated before it answers."""
        plan, digest = (None, None) if known is None else known.once("cache", front.worked_out)
        if plan is None:
            with recording() as changed:
                response = await self._execute(request, principal, known)
            if changed:
                await front.after_write(changed)
            return self._http_cached(request, response)
        if digest is None:
            return await self._execute(request, principal, known)
        key = front.key(principal, digest)
        found = await front.find(key)
        if isinstance(found, Entry):
            return cached_response(found, request)
        exchange = exchange_of(request)
        exchange.pending = CachedQuery(key, plan, found, principal, request.method)
        response = await self._execute(request, principal, known)
        exchange.body = bytes(response.body)
        return self._http_cached(request, response)

    async def _execute(
        self, request: Request, principal: Principal, known: Known | None
    ) -> Response:
        """A request executed: a view document the caller's role has run cleanly before by
        the path in front of strawberry (`graphql.fast.queries`), anything else (and
        anything that path leaves) by strawberry, learning which roles ran it cleanly."""
        plan = None
        if self.queries is not None and known is not None:
            plan = known.once("query", self.queries.worked_out)
        failed = request.scope.pop(FAILED, None)  # in front of the view (`graphql.quick`)
        if plan is not None and failed is not None:
            return await self._failed_query(request, plan, *failed)
        gave_up = request.scope.get(GAVE_UP, False)  # in front of the view (`graphql.quick`)
        if plan is not None and principal.role in plan.accepted and not gave_up:
            assert known is not None
            answered = await self._fast_query(request, principal, plan, known.variables)
            if answered is not None:
                return answered
        response = await self.run(request)
        if plan is not None and exchange_of(request).clean:
            plan.accepted.add(principal.role)  # it passed validation: see `fast.queries`
        return response

    async def _fast_query(
        self, request: Request, principal: Principal, plan: QueryPlan, variables: Any
    ) -> Response | None:
        """The view document's answer from the path in front of strawberry; None when
        strawberry must answer it, with nothing of this attempt left behind."""
        assert self.queries is not None
        started = time.perf_counter()
        context = self._context_for(request, principal)
        data = await self.queries.answer(plan, context, variables)
        if data is None:
            del request.scope[_CONTEXT]
            exchange_of(request).context = None
            await context.db.release()
            return None
        if isinstance(data, QueryFailure):
            return await self._failed_query(request, plan, data, time.perf_counter() - started)
        operation_succeeded(plan.label, "query", time.perf_counter() - started)
        exchange_of(request).clean = True
        # As `create_response` makes it for a result with data and no errors.
        media = GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json"
        return Response(self.encode_json({"data": data}), media_type=media)

    async def _failed_query(
        self, request: Request, plan: QueryPlan, failure: QueryFailure, seconds: float
    ) -> Response:
        """The response to a view document whose error nulled its data on the path in front
        of strawberry, made as strawberry's execution and `run` make it of that result: the
        error logged (`process_errors`) then masked, the operation recorded (from the error
        as raised, as `graphql.steps` records it: its masking replaces the result's errors,
        not the execution context's), the result processed and made a response by the
        view's own steps."""
        raised = [failure.error]
        self.schema.process_errors(raised)
        result = ExecutionResult(data=None, errors=masked(raised))
        operation_failed(plan.label, "query", raised, seconds)
        sub_response = await self.get_sub_response(request)
        response_data = await self.process_result(request, result)
        assert result.errors is not None
        self._handle_errors(result.errors, response_data)
        return self.create_response(response_data, sub_response)

    def _http_cached(self, request: Request, response: Response) -> Response:
        """ETag, Cache-Control and Vary on a clean GET answer; 304 when the client holds it."""
        if request.method != "GET" or response.status_code != 200:
            return response
        if not exchange_of(request).clean:
            return response
        media = response.headers.get("content-type", "")
        headers = http_cache_headers(etag_of(bytes(response.body)), media)
        response.headers.update(headers)
        if matches(request, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        return response

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """Strawberry asks again as it runs a request: the answer is the view's. Its own
        rule took any GET without `query` that accepts `*/*` or HTML for the page, so a
        document named by id got GraphiQL instead of its answer."""
        return self._is_ide_request(request)

    def _is_ide_request(self, request: Request | BaseRequestProtocol) -> bool:
        """A browser's bare GET: one that names a document in any way (by id, or Apollo's
        persisted query in `extensions`) asks for it to run, whatever its Accept says."""
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and accepts(request.headers.get("accept", ""), "text/html")
            and not any(request.query_params.get(name) for name in _DOCUMENT_PARAMETERS)
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return ide.page(request)  # the assets are the package's own, not a CDN's

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if isinstance(request, WebSocket):
            return self._make_context(None, _NOT_YET_AUTHENTICATED)
        principal = request.scope.get(PRINCIPAL)
        if principal is None:
            raise Unauthenticated("missing credentials")
        assert isinstance(request, Request)
        return self._context_for(request, principal)

    def _context_for(self, request: Request, principal: Principal) -> Context:
        """The request's context, kept in its scope; when the response is to be cached,
        recording what the execution reads."""
        context = request.scope[_CONTEXT] = self._make_context(request, principal)
        exchange = exchange_of(request)
        front = self._front()
        if exchange.pending is not None and front is not None:
            front.reads_for(context, exchange.pending)
            exchange.context = context
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType:
        """Authenticate `connection_init`. A refused credential raises Unauthenticated, which
        the transport (`graphql.fast.delivery`) answers: 4403 with the reason, or 1008
        when the client address has sent too many bad credentials."""
        context.principal = await self.connection_principal(context)
        acknowledged: UnsetType = UNSET  # a plain `connection_ack`, without a payload
        return acknowledged

    async def connection_principal(self, context: Context) -> Principal:
        """The principal of the connection's credential (`authorization` in its
        `connection_init` payload) by the HTTP rules, at this moment: the transport asks
        again at every `subscribe`, so a key revoked or a token expired since the
        connection opened starts nothing more. Raises Unauthenticated."""
        params = context.connection_params
        if "authorization" in params and "Authorization" in params:
            # As two Authorization headers are over HTTP: one could be checked by a proxy
            # and the other acted on.
            raise Unauthenticated("send one `authorization`, not both spellings")
        header = params.get("authorization", params.get("Authorization"))
        if header is not None and not isinstance(header, str):
            raise Unauthenticated(f"`authorization` must be a string, not {json_kind(header)}")
        return await self._authenticate_header(header)

    async def execute_single(
        self, request: Any, request_adapter: Any, *args: Any, **kwargs: Any
    ) -> Any:
        context, request_data = kwargs["context"], kwargs["request_data"]
        if request_data.query is not None:
            self.documents.check(request_data.query, context.principal.role)
        try:
            return await super().execute_single(request, request_adapter, *args, **kwargs)
        except HTTPException as exc:
            refused = exc.__cause__
            if not isinstance(refused, InvalidOperationTypeError):
                raise
            if refused.operation_type is OperationType.SUBSCRIPTION:
                # By GET as by POST: 405 with `Allow: POST` said POST would take it.
                raise HTTPException(400, SUBSCRIPTION_OVER_HTTP) from exc
            if request_adapter.method == "GET":
                raise HTTPException(405, "mutations must be sent with POST") from exc
            raise

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's parameters, each of its JSON type, with the text of the document
        it names by id; a 400 otherwise. Strawberry's own parser drops `documentId`, and
        this app offers neither batches, multipart uploads nor HTTP streaming."""
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)
        elif is_json_body(request.content_type or ""):
            data = self.parse_json(await request.get_body())
        else:
            raise _unread_body(request.content_type or "")
        problem = request_problem(data, query_required=False)
        if problem is not None:
            raise HTTPException(400, problem)
        return GraphQLRequestData(
            query=self.documents.query_for(data),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
            protocol="http",
        )

    def encode_json(self, data: object) -> str:
        # str, not bytes: bytes would go out as binary WebSocket frames.
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        exchange_of(request).clean = not result.errors and result.data is not None
        if _never_executed(processed):
            # A request error has no `data` entry at all (the GraphQL spec, and the GraphQL
            # over HTTP spec for either media type): `"data": null` would say it executed.
            processed.pop("data", None)
        return processed

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if isinstance(response_data, dict) and _never_executed(response_data):
                response.status_code = 400
        return response

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if isinstance(request, Request) and wants_graphql_response(request):
            sub_response.media_type = GRAPHQL_RESPONSE
        return sub_response


def _unread_body(content_type: str) -> HTTPException:
    """The 415 for a POST body not read as JSON, naming why: its charset, its media type
    (in lower case: the case of a media type means nothing), or that it named none."""
    charset = foreign_charset(content_type)
    if charset is not None:
        return HTTPException(415, f"send the request in UTF-8, not {quoted(charset)}")
    kind = media_type_of(content_type)
    if not kind:
        return HTTPException(415, "send the request as application/json: it has no Content-Type")
    return HTTPException(415, f"send the request as application/json, not {kind}")


def _never_executed(response: GraphQLHTTPResponse) -> bool:
    """Syntax, validation and limit errors: no data, and no error tied to a field path."""
    errors = response.get("errors") or []
    located = any(isinstance(e, dict) and e.get("path") for e in errors)
    return response.get("data") is None and bool(errors) and not located


def _authorization(scope: Scope) -> str | None:
    """The request's `Authorization` value, as Starlette's headers give the first (the edge
    refuses a request with more than one)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None
