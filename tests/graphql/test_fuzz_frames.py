"""Generated graphql-transport-ws frames over a real WebSocket to `benefitgate serve`:
every message type the protocol names (and some it does not), with any JSON value in
every field, raw text that is not JSON, and binary frames, before and after
`connection_init`.

What must hold, whatever the frames: after each frame the server either carries on
(a `ping` sent after it is answered) or closes with exactly the code the protocol names
for that frame in that state (`_Model`), never 1006 or 1011; every frame it sends is a
protocol message without "Unexpected error." or UNAVAILABLE; and a `subscribe` it keeps
is answered for its id (`next`, `error` or `complete`) or is a stream still running,
which a second `subscribe` with its id proves (4409). `FUZZ_FRAMES` examples (300 by
default).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from benefitgate.events.outbox import START
from tests.fixtures.fuzz import JSON_VALUES, ROLES, Target

EXAMPLES = int(os.environ.get("FUZZ_FRAMES", "300"))
SERVER_MESSAGES = {"connection_ack", "pong", "next", "error", "complete"}
# How long a subscription may stay silent before it counts as a running stream.
ANSWER_SECONDS = 0.1

_LIVE = (
    "subscription($a: [ID!], $t: [String!], $after: String) {{ {field}(accountIds: $a{types},"
    " after: $after) {{ __typename ... on Event {{ id cursor type }}"
    " ... on Error {{ code message }} }} }}"
)
DOCUMENTS = [
    _LIVE.format(field="events", types=", types: $t"),
    _LIVE.format(field="milestoneReached", types=""),
    "subscription { events { __typename } }",
    "{ tiers { key } }",  # a query: refused over the socket
    "mutation { tiers }",
    "subscription { events { ",  # syntax
    "subscription { events { nope } }",  # validation
    "subscription { events { ...F } }",  # unknown fragment
    "subscription A { events { __typename } } subscription B { events { __typename } }",
]
_VARIABLES = st.fixed_dictionaries(
    {},
    optional={
        "a": st.lists(st.uuids().map(str) | st.text(), max_size=3) | JSON_VALUES,
        "t": st.lists(st.sampled_from(["catalog.published", "milestone.reached"]) | st.text())
        | JSON_VALUES,
        "after": st.just(START.encode()) | st.text() | JSON_VALUES,
    },
)
_PERSISTED = st.fixed_dictionaries(
    {"persistedQuery": st.fixed_dictionaries({"version": st.just(1), "sha256Hash": st.text()})}
)
_SUBSCRIBE_PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "query": st.sampled_from(DOCUMENTS) | st.text() | JSON_VALUES,
        "documentId": st.text() | JSON_VALUES,  # a trusted document named by id
        "variables": _VARIABLES | JSON_VALUES,
        "operationName": st.sampled_from(["A", "B"]) | JSON_VALUES,
        "extensions": _PERSISTED | JSON_VALUES,
    },
)
_IDS = st.sampled_from(["1", "2", "a"]) | JSON_VALUES
_MESSAGE_TYPES = [
    "connection_init",
    "ping",
    "pong",
    "subscribe",
    "complete",
    "next",
    "error",
    "connection_ack",
    "start",  # the legacy protocol's
]


@st.composite
def _message(draw: st.DrawFn, credential: str) -> Any:
    kind = draw(st.sampled_from(_MESSAGE_TYPES))
    payloads = {
        "connection_init": st.just({"authorization": f"Bearer {credential}"}) | JSON_VALUES,
        "subscribe": _SUBSCRIBE_PAYLOAD,
    }
    message: dict[str, Any] = {"type": draw(st.just(kind) | JSON_VALUES)}
    if draw(st.booleans()):
        message["id"] = draw(_IDS)
    if draw(st.booleans()):
        message["payload"] = draw(payloads.get(kind, JSON_VALUES) | JSON_VALUES)
    return message


@dataclass
class _Frame:
    text: str | None = None  # JSON or not
    binary: bytes | None = None

    def message(self) -> Any:
        """The decoded JSON, or None for a binary frame or text that is not JSON."""
        if self.text is None:
            return None
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def _frames(credential: str) -> st.SearchStrategy[list[_Frame]]:
    one = st.one_of(
        _message(credential).map(lambda m: _Frame(text=json.dumps(m))),
        JSON_VALUES.map(lambda v: _Frame(text=json.dumps(v))),
        st.text().map(lambda t: _Frame(text=t)),
        st.binary(max_size=20).map(lambda b: _Frame(binary=b)),
    )
    return st.lists(one, min_size=1, max_size=5)


def _valid(message: Any) -> bool:
    """A client message graphql-transport-ws accepts (graphql-ws's `validateMessage`),
    with the server's own rules: no NUL character anywhere, since Postgres stores none,
    and a subscribe may name a trusted document instead of sending `query`."""
    if not isinstance(message, dict) or _holds_nul(message):
        return False
    kind, payload, operation = message.get("type"), message.get("payload"), message.get("id")
    if kind in ("connection_init", "ping", "pong"):
        return payload is None or isinstance(payload, dict)
    has_id = isinstance(operation, str) and operation != ""
    if kind == "complete":
        return has_id
    if kind != "subscribe" or not has_id or not isinstance(payload, dict):
        return False
    extensions = payload.get("extensions")
    names_a_document = payload.get("documentId") is not None or (
        isinstance(extensions, dict) and extensions.get("persistedQuery") is not None
    )
    query = payload.get("query")
    return (
        (isinstance(query, str) or (query is None and names_a_document))
        and isinstance(payload.get("variables"), dict | None)
        and isinstance(payload.get("operationName"), str | None)
        and isinstance(payload.get("extensions"), dict | None)
    )


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False


@dataclass
class _Model:
    """What the protocol says the server does with each frame, given what came before.
    An outcome is the close code, or None when the connection carries on."""

    credential: str
    initialised: bool = False
    acknowledged: bool = False
    running: set[str] = field(default_factory=set)  # subscribed, not known to have ended

    def outcomes(self, frame: _Frame) -> set[int | None]:
        message = frame.message()
        if not _valid(message):
            return {4400}
        kind = message["type"]
        if kind == "connection_init":
            if self.initialised:
                return {4429}
            self.initialised = True
            payload = message.get("payload") or {}
            if payload.get("authorization") == f"Bearer {self.credential}":
                self.acknowledged = True
                return {None}
            return {4403}
        if kind == "subscribe":
            if not self.acknowledged:
                return {4401}
            if message["id"] in self.running:  # or its end is on its way
                return {4409, None}
            self.running.add(message["id"])
        if kind == "complete":
            self.running.discard(message["id"])
        return {None}


@dataclass
class _Session:
    """One connection, as far as the client saw it."""

    ws: ClientConnection
    model: _Model
    answered: set[str] = field(default_factory=set)  # ids a next/error/complete named
    pings: int = 0  # sent, to be answered
    pongs: int = 0

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The next message, checked; None when none came within `timeout`."""
        try:
            frame = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        assert isinstance(frame, str), "the server sends text frames only"
        message = json.loads(frame)
        assert isinstance(message, dict) and message.get("type") in SERVER_MESSAGES, message
        assert "Unexpected error." not in frame and "UNAVAILABLE" not in frame, message
        if message["type"] == "pong":
            self.pongs += 1
        elif message["type"] != "connection_ack":
            assert isinstance(message.get("id"), str), message
            self.answered.add(message["id"])
            if message["type"] in ("error", "complete"):
                self.model.running.discard(message["id"])
        return message

    def until(self, done: Any, timeout: float = 10) -> bool:
        """Read until `done()` holds; False if the server went silent first."""
        while not done():
            if self.read(timeout) is None:
                return False
        return True

    def outcome(self, frame: _Frame) -> int | None:
        """Send `frame`, then a ping: the close code if the server closed instead of
        answering the ping, None if it answered."""
        message = frame.message()
        self.pings += 2 if _valid(message) and message["type"] == "ping" else 1
        try:
            if frame.binary is not None:
                self.ws.send(frame.binary)
            else:
                self.ws.send(frame.text or "")
            self.ws.send(json.dumps({"type": "ping"}))
            assert self.until(lambda: self.pongs >= self.pings), "a ping went unanswered"
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else 1006
        return None


def _exchange(port: int, credential: str, init: bool, frames: list[_Frame]) -> None:
    uri = f"ws://127.0.0.1:{port}/graphql"
    with connect(uri, subprotocols=[Subprotocol("graphql-transport-ws")], proxy=None) as ws:
        session = _Session(ws, _Model(credential))
        if init:
            hello = {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {credential}"},
            }
            frames = [_Frame(text=json.dumps(hello)), *frames]
        for frame in frames:
            allowed = session.model.outcomes(frame)
            outcome = session.outcome(frame)
            assert outcome in allowed, (frame, outcome, allowed)
            if outcome is not None:
                return
        _kept_subscriptions_are_answered_or_running(session)


def _kept_subscriptions_are_answered_or_running(session: _Session) -> None:
    for operation in sorted(session.model.running):
        if session.until(lambda op=operation: op in session.answered, ANSWER_SECONDS):
            continue
        # Silent: only a running stream may be. A second subscribe under its id closes the
        # socket with 4409 if and only if the first is still running.
        again = _Frame(
            text=json.dumps(
                {"type": "subscribe", "id": operation, "payload": {"query": DOCUMENTS[2]}}
            )
        )
        assert session.outcome(again) == 4409, f"subscription {operation} went unanswered"
        return


@pytest.mark.parametrize("role", ROLES)
def test_generated_frames_get_protocol_answers(target: Target, role: str) -> None:
    credential = target.credentials[role]

    @settings(
        max_examples=EXAMPLES // len(ROLES),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(init=st.booleans(), frames=_frames(credential))
    def frames_get_protocol_answers(init: bool, frames: list[_Frame]) -> None:
        _exchange(target.port, credential, init, frames)

    frames_get_protocol_answers()
