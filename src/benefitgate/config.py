"""Settings, read once from the environment. Every variable is documented in the README."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benefitgate.http_protocol import MAX_HEADER_BYTES

__all__ = ["ROLES", "Quota", "Settings", "created_once", "local_secret"]

# The callers limits are set for: the four principal roles, and `anonymous` for requests
# without a usable credential (keyed by client address).
ROLES = ("frontend", "partner", "operator", "admin", "anonymous")

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


def _cache_lease() -> float:
    seconds = float(os.environ.get("BENEFITGATE_CACHE_CONFIRM_SECONDS") or 0.5)
    if not 0.1 <= seconds <= 60:
        # A replica renews its lease four times a lease: shorter would spin.
        raise ValueError("BENEFITGATE_CACHE_CONFIRM_SECONDS: from 0.1 to 60")
    return seconds


def _report_months() -> int:
    months = _int("BENEFITGATE_REPORT_MONTHS", 3)
    if months not in (0, 1, 2, 3, 4, 6, 12):
        raise ValueError("BENEFITGATE_REPORT_MONTHS: 1, 2, 3, 4, 6 or 12 (a year's divisor), or 0")
    return months


@dataclass(frozen=True, slots=True)
class Quota:
    """`requests` per `seconds`, as a token bucket: it holds at most `requests` tokens and
    refills at `requests / seconds` a second, so a full bucket allows a burst of all."""

    requests: int
    seconds: int

    @classmethod
    def parse(cls, raw: str) -> Quota | None:
        """`"300/60"` (300 requests a minute); `"off"` or `"0"`: no limit."""
        text = raw.strip().lower()
        if text in {"off", "0", ""}:
            return None
        requests, _, seconds = text.partition("/")
        quota = cls(int(requests), int(seconds or 1))
        if quota.requests < 1 or quota.seconds < 1:
            raise ValueError(f"a quota is REQUESTS/SECONDS, both positive, not {raw!r}")
        return quota


# Production defaults of the per-role limits (the README's table); a Settings built in code
# has none unless given.
DEFAULT_RATES = {
    "frontend": "300/60",
    "partner": "1200/60",
    "operator": "3000/60",
    "admin": "3000/60",
    "anonymous": "60/60",
}
DEFAULT_COSTS = {"frontend": 5_000, "partner": 20_000, "operator": 50_000, "admin": 50_000}


def _quotas() -> dict[str, Quota | None]:
    return {
        role: Quota.parse(os.environ.get(f"BENEFITGATE_RATE_{role.upper()}", DEFAULT_RATES[role]))
        for role in ROLES
    }


def _costs() -> dict[str, int]:
    return {
        role: _int(f"BENEFITGATE_COST_{role.upper()}", DEFAULT_COSTS[role])
        for role in DEFAULT_COSTS
    }


def _list(name: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in os.environ.get(name, "").split(",") if x.strip())


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
    backfill_days: int = 35  # how far back a usage event may be dated
    usage_retention_days: int = 0  # raw usage events are kept this long; 0 keeps all
    live_queue_size: int = 1_000  # events queued per live subscriber before it is closed
    live_max_subscriptions: int = 20  # per WebSocket connection
    live_init_seconds: float = 5.0  # to send `connection_init` after connecting
    statement_seconds: float = 30.0  # the longest a pooled statement may run; 0: no limit
    pool_acquire_seconds: float = 10.0  # the longest a request waits for a connection; 0: ever
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
    redis_url: str | None = None  # the shared tier; None: everything stays in process
    redis_prefix: str = "benefitgate:"  # of every Redis key this service writes
    # Requests per caller by role (a role missing or None: no limit) and the cost ceiling
    # of one operation by role (missing or 0: no ceiling). See `graphql.ratelimit`, `cost`.
    rate_quotas: Mapping[str, Quota | None] = field(default_factory=dict)
    cost_ceilings: Mapping[str, int] = field(default_factory=dict)
    max_header_bytes: int = MAX_HEADER_BYTES  # all request headers together; larger get 431
    body_seconds: float = 30.0  # for a request's body to arrive once it is read; 0: no limit
    live_message_quota: Quota | None = None  # WebSocket messages a connection may send
    cors_origins: tuple[str, ...] = ()  # origins browsers may call from; "*" for any
    cors_credentials: bool = False  # let browsers send cookies and HTTP auth cross-origin
    check_snapshots: int = 50_000  # accounts whose entitlement snapshot a process keeps
    ingest_accounts: int = 50_000  # accounts a process keeps for POST /events
    fast_checks: bool = True  # answer check documents in front of strawberry
    fast_queries: bool = True  # and view documents (`graphql.fast.queries`)
    response_cache: bool = True  # the response cache in front of execution
    cache_entries: int = 20_000  # responses the in-process tier holds at most
    cache_bytes: int = 64 * 1024 * 1024  # and their bytes at most
    cache_shared_ttl_seconds: float = 3_600.0  # the longest an entry stays in Redis
    # A replica's lease on the broadcasts, so the longest a write waits for replicas'
    # confirmations (`cache.broadcasts`).
    cache_confirm_seconds: float = 0.5
    portal: bool = False  # serve the reference benefits portal on /portal
    # Entitlement snapshots: the current Ed25519 private key (PKCS#8 PEM; empty: a key kept
    # in the data folder), the previous keys' public JWKs (a JWKS), the minutes one lasts.
    snapshot_key: str = ""
    snapshot_previous_keys: str = ""
    snapshot_minutes: int = 15
    report_months: int = 3  # impact reports' period (1, 2, 3, 4, 6 or 12); 0 turns them off
    report_backfill: int = 4  # closed periods whose missing reports the scheduler makes
    vendor_name: str = "Your vendor"  # how customers see the vendor's staff in their audit trail
    # A streaming standby of the primary for queries (benefitgate.replica); None: the primary.
    read_database_url: str | None = None
    # The self-serve switches turned on (trial, downgrade, term, cancel; see
    # `selfserve.models.Policy`), and the days a self-serve trial lasts.
    self_serve: frozenset[str] = frozenset()
    self_serve_trial_days: int = 14

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
            backfill_days=_int("BENEFITGATE_BACKFILL_DAYS", 35),
            usage_retention_days=_int("BENEFITGATE_USAGE_RETENTION_DAYS", 0),
            live_queue_size=_int("BENEFITGATE_LIVE_QUEUE_SIZE", 1_000),
            live_max_subscriptions=_int("BENEFITGATE_LIVE_MAX_SUBSCRIPTIONS", 20),
            live_init_seconds=float(os.environ.get("BENEFITGATE_LIVE_INIT_SECONDS") or 5),
            statement_seconds=float(os.environ.get("BENEFITGATE_STATEMENT_SECONDS") or 30),
            pool_acquire_seconds=float(os.environ.get("BENEFITGATE_POOL_ACQUIRE_SECONDS") or 10),
            webhook_key=os.environ.get("BENEFITGATE_WEBHOOK_KEY")
            or local_secret(data_dir, "webhook_key"),
            webhook_allow_hosts=frozenset(_list("BENEFITGATE_WEBHOOK_ALLOW_HOSTS")),
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
            redis_url=os.environ.get("REDIS_URL") or None,
            redis_prefix=os.environ.get("BENEFITGATE_REDIS_PREFIX", "benefitgate:"),
            rate_quotas=_quotas(),
            cost_ceilings=_costs(),
            max_header_bytes=_int("BENEFITGATE_MAX_HEADER_BYTES", MAX_HEADER_BYTES),
            body_seconds=float(os.environ.get("BENEFITGATE_BODY_SECONDS") or 30),
            live_message_quota=Quota.parse(
                os.environ.get("BENEFITGATE_LIVE_MESSAGE_RATE", "100/10")
            ),
            cors_origins=_list("BENEFITGATE_CORS_ORIGINS"),
            cors_credentials=_flag("BENEFITGATE_CORS_CREDENTIALS", False),
            check_snapshots=_int("BENEFITGATE_CHECK_SNAPSHOTS", 50_000),
            ingest_accounts=_int("BENEFITGATE_INGEST_ACCOUNTS", 50_000),
            fast_checks=_flag("BENEFITGATE_FAST_CHECKS", True),
            fast_queries=_flag("BENEFITGATE_FAST_QUERIES", True),
            response_cache=_flag("BENEFITGATE_RESPONSE_CACHE", True),
            cache_entries=_int("BENEFITGATE_CACHE_ENTRIES", 20_000),
            cache_bytes=_int("BENEFITGATE_CACHE_BYTES", 64 * 1024 * 1024),
            cache_shared_ttl_seconds=float(
                os.environ.get("BENEFITGATE_CACHE_SHARED_TTL_SECONDS") or 3600
            ),
            cache_confirm_seconds=_cache_lease(),
            portal=_flag("BENEFITGATE_PORTAL", _flag("BENEFITGATE_DEV_MODE", False)),
            snapshot_key=os.environ.get("BENEFITGATE_SNAPSHOT_KEY", ""),
            snapshot_previous_keys=os.environ.get("BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS", ""),
            snapshot_minutes=_int("BENEFITGATE_SNAPSHOT_MINUTES", 15),
            vendor_name=os.environ.get("BENEFITGATE_VENDOR_NAME") or "Your vendor",
            read_database_url=os.environ.get("BENEFITGATE_READ_DATABASE_URL") or None,
            self_serve=frozenset(_list("BENEFITGATE_SELF_SERVE")),
            self_serve_trial_days=_int("BENEFITGATE_SELF_SERVE_TRIAL_DAYS", 14),
            report_months=_report_months(),
            report_backfill=_int("BENEFITGATE_REPORT_BACKFILL", 4),
        )


def local_secret(data_dir: Path, name: str) -> str:
    """A secret kept in the data folder, so that tokens printed by `serve` and sealed
    webhook secrets survive restarts. Replicas that share a database must share
    BENEFITGATE_JWT_SECRET and BENEFITGATE_WEBHOOK_KEY instead."""
    return created_once(data_dir / name, lambda: secrets.token_urlsafe(48)).strip()


def created_once(path: Path, make: Callable[[], str]) -> str:
    """The file's text, written (mode 0600) by the first of any processes or threads that
    start together: each writes a file of its own aside and links it into place, so all
    read the first one linked, never a half-written one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(make())
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        finally:
            os.unlink(aside)
    return path.read_text()
