"""Settings, read once from the environment. Every variable is documented in the README."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "local_secret"]

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in _TRUE


def _names(name: str, default: frozenset[str] | None = None) -> frozenset[str] | None:
    """A comma-separated list (empty: none); `default` when the variable is unset."""
    raw = os.environ.get(name)
    return default if raw is None else frozenset(n.strip() for n in raw.split(",") if n.strip())


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else int(raw)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    data_dir: Path
    host: str
    port: int
    jwt_secret: str
    dev_mode: bool
    graphiql: bool
    log_level: str
    pool_min: int
    pool_max: int
    max_body_bytes: int
    max_depth: int
    max_tokens: int
    max_aliases: int
    scheduler_seconds: float  # between scheduler ticks; 0 turns the scheduler off
    event_retention_days: int = 30  # outbox events older than this are pruned; 0 keeps all
    live_queue_size: int = 1_000  # events queued per live subscriber before it is closed
    live_max_subscriptions: int = 20  # per WebSocket connection
    live_init_seconds: float = 5.0  # to send `connection_init` after connecting
    statement_seconds: float = 30.0  # the longest a pooled statement may run; 0: no limit
    # Seals webhook signing secrets in the database; the same on every replica. Empty: a
    # key kept in the data folder (the embedded default).
    webhook_key: str = ""
    webhook_allow_hosts: frozenset[str] = frozenset()  # receivers allowed on private addresses
    webhook_timeout_seconds: float = 10.0  # for a receiver to answer
    webhook_retry_seconds: float = 5.0  # the first retry's delay, doubling up to six hours
    webhook_concurrency: int = 200  # endpoints one process sends to at once
    documents: Path | None = None  # the trusted documents' manifest; None: no ids known
    documents_required_for: frozenset[str] = frozenset({"frontend"})  # roles held to it
    # Roles that may query __schema and __type. None: every role in development mode, all
    # but frontends otherwise.
    introspection_for: frozenset[str] | None = None
    metrics: bool = True  # serve Prometheus metrics
    # 0: at /metrics on the service's port; another port: there only, away from the public one
    metrics_port: int = 0

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is set and a private Postgres is started instead."""
        return self.database_url is None

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("BENEFITGATE_DATA_DIR", ".data")).resolve()
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=data_dir,
            host=os.environ.get("BENEFITGATE_HOST", "127.0.0.1"),
            port=_int("BENEFITGATE_PORT", 8000),
            jwt_secret=os.environ.get("BENEFITGATE_JWT_SECRET")
            or local_secret(data_dir, "jwt_secret"),
            dev_mode=_flag("BENEFITGATE_DEV_MODE", False),
            graphiql=_flag("BENEFITGATE_GRAPHIQL", True),
            log_level=os.environ.get("BENEFITGATE_LOG_LEVEL", "INFO").upper(),
            pool_min=_int("BENEFITGATE_POOL_MIN", 2),
            pool_max=_int("BENEFITGATE_POOL_MAX", 10),
            max_body_bytes=_int("BENEFITGATE_MAX_BODY_BYTES", 1_048_576),
            max_depth=_int("BENEFITGATE_MAX_DEPTH", 12),
            max_tokens=_int("BENEFITGATE_MAX_TOKENS", 2_000),
            max_aliases=_int("BENEFITGATE_MAX_ALIASES", 20),
            scheduler_seconds=float(os.environ.get("BENEFITGATE_SCHEDULER_SECONDS") or 30),
            event_retention_days=_int("BENEFITGATE_EVENT_RETENTION_DAYS", 30),
            live_queue_size=_int("BENEFITGATE_LIVE_QUEUE_SIZE", 1_000),
            live_max_subscriptions=_int("BENEFITGATE_LIVE_MAX_SUBSCRIPTIONS", 20),
            live_init_seconds=float(os.environ.get("BENEFITGATE_LIVE_INIT_SECONDS") or 5),
            statement_seconds=float(os.environ.get("BENEFITGATE_STATEMENT_SECONDS") or 30),
            webhook_key=os.environ.get("BENEFITGATE_WEBHOOK_KEY")
            or local_secret(data_dir, "webhook_key"),
            webhook_allow_hosts=frozenset(
                h.strip()
                for h in os.environ.get("BENEFITGATE_WEBHOOK_ALLOW_HOSTS", "").split(",")
                if h.strip()
            ),
            webhook_timeout_seconds=float(
                os.environ.get("BENEFITGATE_WEBHOOK_TIMEOUT_SECONDS") or 10
            ),
            webhook_retry_seconds=float(os.environ.get("BENEFITGATE_WEBHOOK_RETRY_SECONDS") or 5),
            webhook_concurrency=_int("BENEFITGATE_WEBHOOK_CONCURRENCY", 200),
            documents=Path(os.environ["BENEFITGATE_DOCUMENTS"])
            if os.environ.get("BENEFITGATE_DOCUMENTS")
            else None,
            documents_required_for=_names(
                "BENEFITGATE_DOCUMENTS_REQUIRED_FOR", frozenset({"frontend"})
            )
            or frozenset(),
            introspection_for=_names("BENEFITGATE_INTROSPECTION_FOR"),
            metrics=_flag("BENEFITGATE_METRICS", True),
            metrics_port=_int("BENEFITGATE_METRICS_PORT", 0),
        )


def local_secret(data_dir: Path, name: str) -> str:
    """A secret kept in the data folder, so that tokens printed by `serve` and sealed
    webhook secrets survive restarts. Replicas that share a database must share
    BENEFITGATE_JWT_SECRET and BENEFITGATE_WEBHOOK_KEY instead."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
