"""Structured JSON logs with the request id (and the trace and span ids when tracing is
on), and credentials redacted from every line."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

__all__ = ["JsonFormatter", "configure_logging", "redact", "request_id"]

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRETS = [
    (re.compile(r"bgk_[0-9a-f]{12}_[A-Za-z0-9_\-]+"), "bgk_[redacted]"),
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9_\-.=]+"), "Bearer [redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"), "[redacted-jwt]"),
    (re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
]

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


# What every secret above starts with: one search finds whether any pattern can match, so
# that a line without one (nearly all: every request's access line) costs one scan, not four.
_MAY_HOLD_SECRET = re.compile(r"bgk_|(?i:bearer)|eyJ|postgres")


def redact(text: str) -> str:
    if _MAY_HOLD_SECRET.search(text) is None:
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # as W3C trace context writes them, to find the line from a trace
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "request_id":
                # A number holds no secret (the access line's status and milliseconds).
                number = type(value) in (int, float)
                entry[key] = str(value) if number else redact(str(value))
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Strawberry logs each execution error itself, message and all; ours is redacted.
    logging.getLogger("strawberry.execution").disabled = True
