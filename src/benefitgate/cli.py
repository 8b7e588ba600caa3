"""The `benefitgate` command: serve, migrate, seed, export-schema, keys, documents,
snapshot-key."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate import db, migrate
from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role, issue_frontend_token
from benefitgate.clock import SystemClock
from benefitgate.common.text import counted
from benefitgate.config import Settings

__all__ = ["main"]


class _Database:
    """The configured database, or the embedded one started for the command's duration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded = db.EmbeddedPostgres(settings.data_dir) if settings.embedded else None

    def __enter__(self) -> str:
        if self.embedded is not None:
            return self.embedded.start()
        assert self.settings.database_url is not None
        return self.settings.database_url

    def __exit__(self, *_: object) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def _run(coro: Callable[[asyncpg.Connection], Coroutine[Any, Any, None]], dsn: str) -> None:
    async def go() -> None:
        conn = await db.connect(dsn)
        try:
            await coro(conn)
        finally:
            await conn.close()

    asyncio.run(go())


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    async def go(conn: asyncpg.Connection) -> None:
        applied = await migrate.apply_migrations(conn)
        print(f"applied {applied}" if applied else "database is up to date")

    with _Database(settings) as dsn:
        _run(go, dsn)


def cmd_seed(args: argparse.Namespace, settings: Settings) -> None:
    from benefitgate.demo.seed import seed_demo

    async def go(conn: asyncpg.Connection) -> None:
        await migrate.apply_migrations(conn)
        summary = await seed_demo(
            conn, accounts=args.accounts, seed=args.seed, now=SystemClock().now(), progress=True
        )
        print(summary)

    if not args.demo:
        sys.exit("only demo data can be seeded: pass --demo")
    with _Database(settings) as dsn:
        _run(go, dsn)


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from benefitgate.graphql.schema import build_schema

    sdl = build_schema(max_depth=1, max_tokens=1, max_aliases=1, suggestions=False).as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)


def _schema_for_tools() -> Any:
    from benefitgate.graphql.schema import build_schema

    return build_schema(max_depth=1, max_tokens=1, max_aliases=1, suggestions=False)


def cmd_documents(args: argparse.Namespace, settings: Settings) -> None:
    """Build the trusted documents' manifest from a folder of `.graphql` files; exit 1,
    naming each file's problem, when one is not a single operation valid against the
    schema."""
    from benefitgate.graphql.documents import ManifestError, build_manifest

    try:
        manifest = build_manifest(Path(args.directory), _schema_for_tools()._schema)
    except ManifestError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from exc
    _write(args.output, manifest.as_json())
    if args.output != "-":
        count = len(manifest)
        print(f"{count} document{'' if count == 1 else 's'} in {args.output}")


def cmd_possible_types(args: argparse.Namespace, settings: Settings) -> None:
    from benefitgate.graphql.possible_types import possible_types_json

    _write(args.output, possible_types_json(_schema_for_tools()._schema))


def cmd_snapshot_key(args: argparse.Namespace, settings: Settings) -> None:
    """`new`: print a new Ed25519 private key for BENEFITGATE_SNAPSHOT_KEY. `public`: print
    the public JWK of the key read from stdin, the entry BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS
    lists once that key is rotated out."""
    import json

    from benefitgate.offline.keys import KeyRing, new_private_key_pem

    if args.action == "new":
        sys.stdout.write(new_private_key_pem())
        return
    try:
        ring = KeyRing.of(sys.stdin.read())
    except ValueError as exc:
        sys.exit(f"not an Ed25519 private key in PEM: {exc}")
    print(json.dumps(ring.published[0]))


def _write(output: str, text: str) -> None:
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text)


def cmd_tokens(args: argparse.Namespace, settings: Settings) -> None:
    """Mint a frontend token as a vendor's backend would: HS256 with the service's secret,
    naming the account and the user. No database is needed."""
    try:
        token = issue_frontend_token(
            settings.jwt_secret,
            subject=args.subject,
            account_id=UUID(args.account),
            now=SystemClock().now(),
            ttl=timedelta(seconds=args.ttl),
        )
    except ValueError as exc:  # a subject the service would refuse, or not an account id
        sys.exit(f"benefitgate tokens mint: {exc}")
    print(token)


def cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    """Import accounts or subscriptions from a CSV file; exits with 2 when rows were
    refused (the valid ones landed), 1 when the file could not be read at all."""
    from rich.progress import Progress

    from benefitgate.catalog.repository import load_catalog
    from benefitgate.common.changes import ChangeContext
    from benefitgate.importing import runner
    from benefitgate.importing.csvfile import BadFile

    path = Path(args.file)
    report = runner.Report()

    async def go(conn: asyncpg.Connection) -> None:
        nonlocal report
        change = ChangeContext("import", f"imported from {path.name}", None, SystemClock().now())
        with Progress(transient=True) as bar:
            task = bar.add_task(f"{args.kind} from {path.name}", total=None)

            def advance(rows: int) -> None:
                bar.advance(task, rows)

            if args.kind == "accounts":
                report = await runner.import_accounts(conn, path, change, args.dry_run, advance)
            else:
                catalog = await load_catalog(conn)
                report = await runner.import_subscriptions(
                    conn, path, change, catalog, args.dry_run, advance
                )

    try:
        with _Database(settings) as dsn:
            _run(go, dsn)
    except BadFile as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    verb = "would create" if args.dry_run else "created"
    created = counted(report.created, args.kind.removesuffix("s"))
    refused = counted(len(report.rejected), "row")
    print(f"{verb} {created}, {report.unchanged} already there, {refused} refused")
    for error in report.rejected:
        print(f"  {error}", file=sys.stderr)
    if report.rejected:
        raise SystemExit(2)


def cmd_keys(args: argparse.Namespace, settings: Settings) -> None:
    async def go(conn: asyncpg.Connection) -> None:
        if args.action == "create":
            partner = UUID(args.partner) if args.partner else None
            issued = await apikeys.create_key(
                conn, name=args.name, role=Role(args.role), partner_id=partner
            )
            print(
                f"created {issued.key.id} ({issued.key.role.value}); shown once:\n{issued.secret}"
            )
        elif args.action == "list":
            for key in await apikeys.list_keys(conn):
                state = "revoked" if key.revoked_at else "active"
                print(
                    f"{key.id}  {key.role.value:8}  {state:7}  {key.partner_id or '-'}  {key.name}"
                )
        else:
            key = await apikeys.revoke_key(conn, args.key_id)
            print(f"revoked {key.id}")

    with _Database(settings) as dsn:
        _run(go, dsn)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from benefitgate.telemetry import exposition

    if args.demo:  # the demo shows the portal unless BENEFITGATE_PORTAL says otherwise
        os.environ.setdefault("BENEFITGATE_PORTAL", "1")
    signal.signal(signal.SIGTERM, _exit_on_term)
    with _Database(settings) as dsn:
        _run(lambda conn: _prepare(conn, settings, demo=args.demo), dsn)
        os.environ["DATABASE_URL"] = dsn
        # Before any worker starts: they choose multiprocess mode from this variable.
        made = exposition.prepare_folder(args.workers, settings.data_dir)
        if settings.metrics and settings.metrics_port:
            exposition.serve_on_port(settings.host, settings.metrics_port)
        print(f"serving GraphQL at http://{settings.host}:{settings.port}/graphql", flush=True)
        try:
            _serve(settings, args.workers)
        finally:
            if made is not None:
                exposition.remove_folder(made)


def _exit_on_term(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM as SystemExit, so that `serve` stops what it started (the embedded Postgres):
    uvicorn, once shut down, raises the signal again to exit by it, which by default ended
    the process before the embedded server was stopped, and left it running."""
    raise SystemExit(128 + signum)


def _serve(settings: Settings, workers: int) -> None:
    import uvicorn

    from benefitgate.workers import serve_workers

    app = "benefitgate.app:create_app_from_env"
    options: dict[str, Any] = dict(
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        # httptools, writing each response in one system call (see http_protocol).
        http="benefitgate.http_protocol:HttpProtocol",
        log_config=None,
        access_log=False,
        # Live event frames are a few hundred bytes of JSON: compressing each one cost
        # about a tenth of the service's time per delivery, on both ends, for little.
        ws_per_message_deflate=False,
        # WebSocket messages are bounded like HTTP bodies (the app checks too, for other
        # servers); uvicorn closes a larger one with 1009 before buffering it.
        ws_max_size=settings.max_body_bytes,
        # uvicorn's WebSocket protocol, cutting at shutdown the connections of clients that
        # stopped reading instead of waiting out the graceful timeout for them.
        ws="benefitgate.sockets:WebSocketProtocol",
        # On SIGTERM uvicorn waits for open requests and sockets to finish; a stream
        # that does not end must not keep the replica up past its orchestrator's grace
        # period (Kubernetes: 30 s). Clients resume from their cursor either way.
        timeout_graceful_shutdown=10,
    )
    if workers > 1:  # each worker with a listening socket of its own
        serve_workers(uvicorn.Config(app, workers=workers, **options))
    else:
        uvicorn.run(app, **options)


async def _prepare(conn: asyncpg.Connection, settings: Settings, *, demo: bool) -> None:
    """Migrate; with --demo, load demo data into an empty database and print credentials."""
    from benefitgate.demo.seed import database_is_empty, seed_demo

    await migrate.apply_migrations(conn)
    if not demo:
        return
    now = SystemClock().now()
    if await database_is_empty(conn):
        print("loading demo data (first start)...", flush=True)
        await seed_demo(conn, now=now, progress=True)
    # The seed's demo account is number 1 (a Business account near its API-call limit).
    account_id = await conn.fetchval(
        """select id from accounts
           order by name ~ '^Northwind Labs 0*1$' desc, created_at, id limit 1"""
    )
    issued = await apikeys.create_key(conn, name="demo admin (serve --demo)", role=Role.ADMIN)
    token = issue_frontend_token(
        settings.jwt_secret,
        subject="demo-user",
        account_id=account_id,
        now=now,
        ttl=timedelta(days=7),
    )
    print(f"admin API key:   Authorization: Bearer {issued.secret}")
    print(f"frontend token for account {account_id} (7 days):\n  Authorization: Bearer {token}")
    if os.environ["BENEFITGATE_PORTAL"].strip().lower() in {"1", "true", "yes", "on"}:
        base = f"http://{settings.host}:{settings.port}"
        print(f"benefits portal for that account:\n  {base}/portal#token={token}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benefitgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate and serve GraphQL")
    serve.add_argument(
        "--demo", action="store_true", help="seed an empty database, print credentials"
    )
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    seed = sub.add_parser("seed", help="load demo data into an empty database")
    seed.add_argument("--demo", action="store_true", required=True)
    seed.add_argument("--accounts", type=int, default=1000)
    seed.add_argument("--seed", type=int, default=42)
    seed.set_defaults(func=cmd_seed)
    export = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", default="-")
    export.set_defaults(func=cmd_export_schema)
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=["partner", "operator", "admin"], required=True)
    create.add_argument("--partner", help="partner id, for partner keys")
    keys_sub.add_parser("list")
    revoke = keys_sub.add_parser("revoke")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)
    tokens = sub.add_parser("tokens", help="frontend tokens")
    tokens_sub = tokens.add_subparsers(dest="action", required=True)
    mint = tokens_sub.add_parser("mint", help="print a frontend token for one account")
    mint.add_argument("--account", required=True, help="the account id")
    mint.add_argument("--subject", required=True, help="the user, as your app names them")
    mint.add_argument("--ttl", type=int, default=3600, help="seconds it stays valid")
    tokens.set_defaults(func=cmd_tokens)
    load = sub.add_parser("import", help="import accounts or subscriptions from CSV")
    load.add_argument("kind", choices=["accounts", "subscriptions"])
    load.add_argument("file", help="UTF-8 CSV with a header row (see the README)")
    load.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    load.set_defaults(func=cmd_import)
    documents = sub.add_parser("documents", help="trusted documents")
    documents_sub = documents.add_subparsers(dest="action", required=True)
    build = documents_sub.add_parser("build", help="build the manifest from .graphql files")
    build.add_argument("directory", help="a folder of .graphql files, one operation each")
    build.add_argument("--output", default="-", help="the manifest file (default: stdout)")
    build.set_defaults(func=cmd_documents)
    possible = sub.add_parser(
        "export-possible-types", help="print Apollo Client's possibleTypes (JSON)"
    )
    possible.add_argument("--output", default="-")
    possible.set_defaults(func=cmd_possible_types)
    snapshot_key = sub.add_parser("snapshot-key", help="entitlement snapshots' signing keys")
    snapshot_key.add_argument(
        "action", choices=["new", "public"], help="new: print a key; public: its JWK (stdin)"
    )
    snapshot_key.set_defaults(func=cmd_snapshot_key)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    args.func(args, Settings.from_env())
