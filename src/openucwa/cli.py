"""The operator CLI: ``openucwa serve | migrate | users …``. Every flag has an environment
variable (shown in ``--help``); docs/operations.md lists them."""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from openucwa.auth.passwords import Passwords
from openucwa.bootstrap import build, open_storage
from openucwa.domain.errors import Conflict, ServiceUnavailable
from openucwa.domain.users import User, parse_sip_uri
from openucwa.settings import DEFAULT_DATABASE, Settings, SettingsError, from_env
from openucwa.storage.sql import SqliteStorage, migrate as migrate_sqlite
from openucwa.storage.sql.engine import (
    DatabaseInUse,
    UnusableDatabase,
    lock_for_server,
    pending_migrations,
    sqlite_path,
)
from openucwa.web.access_log import RedactCredentials

T = TypeVar("T")

DEMO_USERS = (
    ("sip:bmauldin@contoso.com", "Bill Mauldin", "bill-demo-pass"),
    ("sip:alice@contoso.com", "Alice Ciccu", "alice-demo-pass"),
    ("sip:tosh@contoso.com", "Tosh Meston", "tosh-demo-pass"),
)

database_option = click.option(
    "--database",
    envvar="OPENUCWA_DATABASE",
    default=DEFAULT_DATABASE,
    show_default=True,
    show_envvar=True,
    help="Database URL, sqlite:///path.",
)


def _pending(url: str) -> list[str]:
    """The migrations to apply, or one line for a URL or file that cannot be used (a bad URL,
    a directory, a file that is not a database, a schema from a newer openucwa)."""
    try:
        return pending_migrations(url)
    except UnusableDatabase as exc:
        raise click.ClickException(str(exc)) from None


def _require_database(url: str) -> None:
    """One line, not a traceback, for a database that is not there or not migrated (and no
    empty file left behind by looking)."""
    try:
        path = sqlite_path(url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not Path(path).is_file():
        raise click.ClickException(f"no database at {path}: run `openucwa migrate` first")
    pending = _pending(url)
    if pending:
        raise click.ClickException(
            f"database {path} needs migrating ({', '.join(pending)}): run `openucwa migrate`"
        )


def _run(settings: Settings, work: Callable[[SqliteStorage], Awaitable[T]]) -> T:
    _require_database(settings.database)

    async def main() -> T:
        storage = open_storage(settings)
        await storage.start()
        try:
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except ServiceUnavailable:
        raise click.ClickException(
            f"the database stayed locked by another process for {settings.database_busy_timeout:g}"
            " s (OPENUCWA_DATABASE_BUSY_TIMEOUT): try again"
        ) from None


def _settings(**overrides: Any) -> Settings:
    """The settings, or a one-line error naming the variable that is wrong (no traceback)."""
    try:
        return from_env(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _migrate(url: str) -> list[str]:
    if not url.startswith("sqlite:"):
        raise click.ClickException(f"unsupported database URL {url!r}")
    try:
        return migrate_sqlite(url)
    except UnusableDatabase as exc:
        raise click.ClickException(str(exc)) from None


def _lock_for_server(url: str) -> IO[str]:
    """The database's lock file, held by ``serve`` for the process's life (``migrate`` holds it
    while it applies migrations)."""
    try:
        return lock_for_server(url)
    except DatabaseInUse as exc:
        raise click.ClickException(f"{exc}: one server process per database file") from None
    except UnusableDatabase as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """openucwa: a UCWA (Skype for Business 2015) online-meetings server."""


@main.command()
@database_option
def migrate(database: str) -> None:
    """Apply pending database migrations."""
    if not database.startswith("sqlite:"):
        raise click.ClickException(f"unsupported database URL {database!r}")
    try:
        lock = lock_for_server(database)
    except DatabaseInUse as exc:  # a running server's code knows only the schema it started on
        if _pending(database):
            raise click.ClickException(f"{exc}: stop it before migrating") from None
        click.echo("database is up to date")
        return
    except UnusableDatabase as exc:
        raise click.ClickException(str(exc)) from None
    with lock:
        applied = _migrate(database)
    click.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@main.command()
@click.option(
    "--host", envvar="OPENUCWA_HOST", default="127.0.0.1", show_default=True, show_envvar=True
)
@click.option(
    "--port", envvar="OPENUCWA_PORT", default=8080, type=int, show_default=True, show_envvar=True
)
@database_option
@click.option(
    "--demo",
    envvar="OPENUCWA_DEMO",
    is_flag=True,
    show_envvar=True,
    help="Migrate, and create the demo users if missing (printed at start).",
)
@click.option(
    "--domains",
    envvar="OPENUCWA_DOMAINS",
    default="contoso.com",
    show_default=True,
    show_envvar=True,
    help="Comma-separated SIP domains of the organisation.",
)
@click.option(
    "--meet-url",
    envvar="OPENUCWA_MEET_URL",
    default="",
    show_envvar=True,
    help="Base URL of joinUrl links (default: this server's own origin).",
)
@click.option("--access-log", envvar="OPENUCWA_ACCESS_LOG", is_flag=True, show_envvar=True)
@click.option(
    "--max-event-wait",
    envvar="OPENUCWA_MAX_EVENT_WAIT",
    type=float,
    default=None,
    show_envvar=True,
    help="Longest hold of an event-channel P-GET, in seconds [default: 180].",
)
@click.option(
    "--one-sender-per-batch",
    envvar="OPENUCWA_ONE_SENDER_PER_BATCH",
    is_flag=True,
    default=None,
    show_envvar=True,
    help="Cut event batches where the sender changes (for clients that read only sender[0]).",
)
def serve(
    host: str,
    port: int,
    database: str,
    demo: bool,
    domains: str,
    meet_url: str,
    access_log: bool,
    max_event_wait: float | None,
    one_sender_per_batch: bool | None,
) -> None:
    """Serve the UCWA API over HTTP."""
    import uvicorn
    from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG

    from openucwa.web.http_protocol import UcwaHttpToolsProtocol

    settings = _settings(
        host=host,
        port=port,
        database=database,
        demo=demo,
        domains=domains,
        meet_url=meet_url,
        max_event_wait=max_event_wait,
        one_sender_per_batch=one_sender_per_batch or None,
    )
    if not demo:
        _require_database(database)
    _lock = _lock_for_server(database)  # held until the process ends
    if demo:
        _migrate(database)
        _run(settings, _seed_demo)  # which also checks the database
    built = build(settings)
    max_connections = connection_cap(settings.max_connections)
    # uvicorn says "Uvicorn running on …" once the port is bound; a bind failure follows this.
    click.echo(f"openucwa starting on http://{host}:{port}/ (database {database})")
    uvicorn.run(
        built.app,
        host=host,
        port=port,
        loop="uvloop",
        # httptools; unparsable, oversized and late requests get the UCWA error body
        http=UcwaHttpToolsProtocol.configured(
            settings.max_head_bytes, settings.head_timeout, settings.body_timeout, max_connections
        ),
        ws="none",  # no WebSocket endpoints: an Upgrade request is answered as plain HTTP
        log_level=settings.log_level,
        log_config=_log_config(LOGGING_CONFIG, LOG_LEVELS.get(settings.log_level, 20)),
        access_log=access_log,
        lifespan="on",
        # Held P-GETs answer as soon as shutdown begins (web/http_protocol.py); a request still
        # running after this many seconds is cancelled, so a stop never waits on a slow client.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        proxy_headers=False,  # X-Forwarded-* are read where hrefs are made (web/links.py)
    )


GRACEFUL_SHUTDOWN = 5  # seconds; systemd waits 90 before SIGKILL, Docker 10

# Descriptors kept for everything but connections: the database and its WAL (two connections),
# the listening socket, the event loop's own, standard streams, logs.
RESERVED_FILES = 128


def connection_cap(wanted: int) -> int:
    """Raise the process's open-file limit (soft, up to the hard limit) so that ``wanted``
    connections fit, and return how many do. Many systems start services with a soft limit
    of 1024; past it the server could not accept anyone. When even the hard limit is too low,
    say so once and cap connections below it."""
    try:
        import resource
    except ImportError:  # not a Unix: no limit to raise here
        return wanted
    needed = wanted + RESERVED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    fitting = max(soft - RESERVED_FILES, 1)
    click.echo(
        f"openucwa: the open-file limit ({soft}) holds {fitting} connections, not "
        f"OPENUCWA_MAX_CONNECTIONS={wanted}; raise it (ulimit -n, LimitNOFILE=) for more",
        err=True,
    )
    return fitting


def _log_config(uvicorn_config: dict[str, Any], level: int) -> dict[str, Any]:
    """uvicorn's logging set-up, with openucwa's own loggers (``openucwa.*``) written by the
    same handler at the same level. Without it they had no handler: their INFO lines were lost
    and their warnings came out bare on stderr."""
    config = copy.deepcopy(uvicorn_config)
    config["loggers"]["openucwa"] = {"handlers": ["default"], "level": level, "propagate": False}
    # Access lines (OPENUCWA_ACCESS_LOG, on standard output as uvicorn writes them) never
    # carry a password or token a client put in a query string.
    config.setdefault("filters", {})["redact"] = {"()": RedactCredentials}
    config["handlers"]["access"].setdefault("filters", []).append("redact")
    return config


async def _seed_demo(storage: SqliteStorage) -> None:
    passwords = Passwords()
    click.echo("demo users (sign-in name / password):")
    for uri, name, password in DEMO_USERS:
        if await storage.users.get(uri) is None:
            await storage.users.add(
                User(uri=uri, name=name, password_hash=passwords.hash(password))
            )
        click.echo(f"  {uri[4:]:<26} {password}")


@main.group()
def users() -> None:
    """Manage the directory of users."""


MAX_NAME_LENGTH = 256  # a user's display name (users add)
MAX_ADDRESS_LENGTH = 256  # a user's SIP URI


def _uri(address: str) -> str:
    uri = parse_sip_uri(address)
    if uri is None:
        raise click.BadParameter(f"not a SIP address: {address!r}")
    return uri


_PASSWORD = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (prompted for, twice and hidden, when left out).",
)


def _require_password(password: str) -> None:
    if not password:  # the token endpoint refuses an empty password: nobody could sign in
        raise click.BadParameter("must not be empty", param_hint="--password")


@users.command("add", short_help="Add a user.")
@click.argument("sip_address")
@click.option("--name", required=True)
@_PASSWORD
@database_option
def users_add(sip_address: str, name: str, password: str, database: str) -> None:
    """Add a user, e.g. `openucwa users add alice@contoso.com --name "Alice" --password …`."""
    uri = _uri(sip_address)
    if len(uri) > MAX_ADDRESS_LENGTH:
        raise click.BadParameter(f"longer than {MAX_ADDRESS_LENGTH} characters")
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    if len(name) > MAX_NAME_LENGTH or any(not c.isprintable() for c in name):
        raise click.BadParameter(
            f"at most {MAX_NAME_LENGTH} printable characters (no line breaks or control"
            " characters: the name is shown in every participant and contact)",
            param_hint="--name",
        )
    _require_password(password)
    settings = _settings(database=database)
    domain = uri.partition("@")[2]
    if domain not in settings.domain_set:
        click.echo(
            f"note: {domain} is not one of the organisation's domains (OPENUCWA_DOMAINS="
            f"{settings.domains}); this user will count as outside the organisation",
            err=True,
        )
    user = User(uri=uri, name=name, password_hash=Passwords().hash(password))

    async def work(storage: SqliteStorage) -> None:
        await storage.users.add(user)

    try:
        _run(settings, work)
    except Conflict:
        raise click.ClickException(f"{uri} already exists") from None
    click.echo(f"added {uri}")


@users.command("list")
@database_option
def users_list(database: str) -> None:
    """List users."""

    async def work(storage: SqliteStorage) -> list[User]:
        return list(await storage.users.list())

    for user in _run(_settings(database=database), work):
        click.echo(f"{user.uri}\t{user.name}")


@users.command("remove")
@click.argument("sip_address")
@database_option
def users_remove(sip_address: str, database: str) -> None:
    """Remove a user and revoke their tokens."""
    uri = _uri(sip_address)

    async def work(storage: SqliteStorage) -> bool:
        # The user first, then the tokens: a sign-in that checked the password before the
        # removal stores its token before looking the user up again (auth/grants.py), so the
        # revocation after the removal reaches it, or it revokes its token itself.
        removed = await storage.users.remove(uri)
        await storage.tokens.revoke_for_subject(uri)
        return removed

    if not _run(_settings(database=database), work):
        raise click.ClickException(f"no such user: {uri}")
    click.echo(f"removed {uri}")


@users.command("passwd")
@click.argument("sip_address")
@_PASSWORD
@database_option
def users_passwd(sip_address: str, password: str, database: str) -> None:
    """Set a user's password and revoke their tokens."""
    uri = _uri(sip_address)
    _require_password(password)
    password_hash = Passwords().hash(password)

    async def work(storage: SqliteStorage) -> bool:
        changed = await storage.users.set_password(uri, password_hash)
        if changed:
            await storage.tokens.revoke_for_subject(uri)
        return changed

    if not _run(_settings(database=database), work):
        raise click.ClickException(f"no such user: {uri}")
    click.echo(f"password changed for {uri}; existing tokens revoked")


if __name__ == "__main__":
    sys.exit(main())
