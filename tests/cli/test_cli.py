"""The operator CLI through click's runner: migrate, users add/list/remove/passwd, env vars."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from openucwa.auth.passwords import Passwords
from openucwa.cli import main
from openucwa.domain.tokens import TokenRecord
from openucwa.settings import Settings, from_env
from openucwa.storage.sql import SqliteStorage
from openucwa.storage.sql.engine import lock_for_server
from tests.storage.support import as_if_from_a_newer_version


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fail(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code != 0
    return result.output


def test_migrate_is_idempotent(db: str, tmp_path: Path) -> None:
    assert "applied" in run("migrate", "--database", db)
    assert "up to date" in run("migrate", "--database", db)
    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "cli.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"users", "tokens", "applications", "meetings", "meeting_extensions"} <= tables


def test_users_add_list_remove(db: str, tmp_path: Path) -> None:
    run("migrate", "--database", db)
    out = run(
        "users",
        "add",
        "Alice@Contoso.com",
        "--name",
        "Alice C",
        "--password",
        "pw1",
        "--database",
        db,
    )
    assert "added sip:alice@contoso.com" in out
    assert "sip:alice@contoso.com\tAlice C" in run("users", "list", "--database", db)
    assert "already exists" in fail(
        "users", "add", "alice@contoso.com", "--name", "A", "--password", "x", "--database", db
    )
    stored = (
        sqlite3.connect(tmp_path / "cli.db")
        .execute("SELECT password_hash FROM users WHERE uri = 'sip:alice@contoso.com'")
        .fetchone()[0]
    )
    assert stored.startswith("$argon2id$") and "pw1" not in stored
    assert Passwords().verify(stored, "pw1")
    assert "removed" in run("users", "remove", "alice@contoso.com", "--database", db)
    assert "alice" not in run("users", "list", "--database", db)
    assert "no such user" in fail("users", "remove", "alice@contoso.com", "--database", db)


def test_users_add_prompts_for_the_password(db: str) -> None:
    run("migrate", "--database", db)
    run(
        "users",
        "add",
        "bob@contoso.com",
        "--name",
        "Bob",
        "--database",
        db,
        input="secret\nsecret\n",
    )
    assert "sip:bob@contoso.com" in run("users", "list", "--database", db)


def test_bad_sip_address_is_refused(db: str) -> None:
    run("migrate", "--database", db)
    assert "not a SIP address" in fail(
        "users", "add", "nobody", "--name", "N", "--password", "p", "--database", db
    )


def test_passwd_changes_the_hash_and_revokes_tokens(db: str, tmp_path: Path) -> None:
    run("migrate", "--database", db)
    run(
        "users",
        "add",
        "carol@contoso.com",
        "--name",
        "Carol",
        "--password",
        "old",
        "--database",
        db,
    )

    async def add_token() -> None:
        storage = SqliteStorage(db)
        await storage.start()
        now = datetime.now(UTC)
        await storage.tokens.add(
            TokenRecord("h1", "sip:carol@contoso.com", "user", now, now + timedelta(hours=1))
        )
        await storage.close()

    asyncio.run(add_token())
    assert "tokens revoked" in run(
        "users", "passwd", "carol@contoso.com", "--password", "new", "--database", db
    )
    conn = sqlite3.connect(tmp_path / "cli.db")
    stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert Passwords().verify(stored, "new") and not Passwords().verify(stored, "old")
    assert conn.execute("SELECT revoked FROM tokens WHERE token_hash = 'h1'").fetchone()[0] == 1


def test_database_comes_from_the_environment(db: str) -> None:
    env = {"OPENUCWA_DATABASE": db}
    run("migrate", env=env)
    run("users", "add", "dave@contoso.com", "--name", "Dave", "--password", "p", env=env)
    assert "sip:dave@contoso.com" in run("users", "list", "--database", db)


def test_settings_read_every_variable() -> None:
    settings = from_env(
        {
            "OPENUCWA_PORT": "9000",
            "OPENUCWA_DEMO": "true",
            "OPENUCWA_DOMAINS": "Contoso.com, fabrikam.com",
            "OPENUCWA_HOUSEKEEPING_INTERVAL": "2.5",
            "OPENUCWA_MAX_MEETINGS_PER_USER": "7",
        },
        port=None,
        host="0.0.0.0",
    )
    assert settings == Settings(
        port=9000,
        demo=True,
        domains="Contoso.com, fabrikam.com",
        housekeeping_interval=2.5,
        max_meetings_per_user=7,
        host="0.0.0.0",
    )
    assert settings.domain_set == frozenset({"contoso.com", "fabrikam.com"})


def test_log_levels_and_trusted_proxy_networks_are_accepted() -> None:
    settings = from_env(
        {"OPENUCWA_LOG_LEVEL": "WARNING", "OPENUCWA_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}
    )
    assert settings.log_level == "warning"  # uvicorn knows the lower-case names only
    assert settings.trusted_proxy_set == {"10.0.0.0/8", "::1"}


def test_serve_refuses_an_unmigrated_database(db: str) -> None:
    async def start() -> None:
        await SqliteStorage(db).start()

    with pytest.raises(RuntimeError, match="openucwa migrate"):
        asyncio.run(start())


def failure(*args: str, env: dict[str, str] | None = None) -> str:
    """A command that fails the way click reports errors: exit code 1 or 2, one ``Error:``
    line, no traceback."""
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "Error:" in result.output
    return result.output


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("OPENUCWA_MAX_MEETINGS_PER_USER", "abc", "is not a whole number"),
        ("OPENUCWA_MAX_MEETINGS_PER_USER", "-1", "must be greater than 0"),
        ("OPENUCWA_MAX_EXTENSIONS_PER_MEETING", "0", "must be greater than 0"),
        ("OPENUCWA_HEAD_TIMEOUT", "soon", "is not a number"),
        ("OPENUCWA_BODY_TIMEOUT", "nan", "is not a number"),
        ("OPENUCWA_TOKEN_LIFETIME", "1.5", "is not a whole number"),
        # past these, timedelta and asyncio timers overflow (at start, or on every P-GET)
        ("OPENUCWA_TOKEN_LIFETIME", "99999999999999999999", "must be at most 1000000000"),
        ("OPENUCWA_MAX_EVENT_WAIT", "99999999999999999999", "must be at most 1000000000"),
        ("OPENUCWA_EVENT_RETENTION", "1000000001", "must be at most 1000000000"),
        ("OPENUCWA_INVITATION_TIMEOUT", "1e20", "must be at most 1000000000"),
        ("OPENUCWA_LOG_LEVEL", "verbose", "must be one of critical, error, warning, info"),
        ("OPENUCWA_LOG_LEVEL", "", "must be one of"),
        ("OPENUCWA_TRUSTED_PROXIES", "10.0.0.5, proxy.local", "'proxy.local' is neither"),
        ("OPENUCWA_TRUSTED_PROXIES", "10.0.0.0/33", "'10.0.0.0/33' is neither"),
        ("OPENUCWA_DOMAINS", ",,", "must name the organisation's SIP domains"),
        ("OPENUCWA_DOMAINS", "contoso.com, not a domain", "must name the organisation's"),
        ("OPENUCWA_MEET_URL", "not a url", "must be an http or https URL"),
        ("OPENUCWA_MEET_URL", "ftp://meet.contoso.com", "must be an http or https URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_variable(
    db: str, name: str, value: str, says: str
) -> None:
    run("migrate", "--database", db)
    out = failure("serve", "--database", db, env={name: value})
    assert name in out and says in out


def test_commands_on_a_missing_or_unmigrated_database_say_so(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nodir' / 'x.db'}"
    assert "openucwa migrate" in failure("users", "list", "--database", missing)
    assert "openucwa migrate" in failure("serve", "--database", missing)
    assert not (tmp_path / "nodir").exists()  # looking created nothing
    sqlite3.connect(tmp_path / "empty.db").close()
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    out = failure(
        "users", "add", "a@contoso.com", "--name", "A", "--password", "p", "--database", empty
    )
    assert "needs migrating" in out


def test_empty_passwords_and_names_are_refused(db: str) -> None:
    run("migrate", "--database", db)
    out = failure(
        "users", "add", "a@contoso.com", "--name", "A", "--password", "", "--database", db
    )
    assert "--password" in out
    out = failure(
        "users", "add", "a@contoso.com", "--name", " ", "--password", "p", "--database", db
    )
    assert "--name" in out
    run("users", "add", "a@contoso.com", "--name", "A", "--password", "p", "--database", db)
    assert "--password" in failure(
        "users", "passwd", "a@contoso.com", "--password", "", "--database", db
    )
    assert "sip:a@contoso.com" in run("users", "list", "--database", db)


@pytest.mark.parametrize("command", [["migrate"], ["users", "list"], ["serve"]])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://relative.db", "not a sqlite URL"),
        ("sqlite:///", "names no file"),
        ("sqlite:///:memory:", "in-memory database"),
        ("sqlite:///{tmp}", "is a directory"),
        ("sqlite:///{tmp}/text.db", "file is not a database"),
    ],
)
def test_a_bad_database_url_or_file_is_one_line(
    tmp_path: Path, command: list[str], url: str, says: str
) -> None:
    (tmp_path / "text.db").write_text("hello\n")
    out = failure(*command, "--database", url.format(tmp=tmp_path))
    assert says in out and len(out.strip().splitlines()) == 1, out


def test_every_command_refuses_a_database_from_a_newer_version(db: str, tmp_path: Path) -> None:
    run("migrate", "--database", db)
    as_if_from_a_newer_version(tmp_path / "cli.db")
    newer = "migrations this version of openucwa does not know (0099_future): use a newer openucwa"
    for command in (["migrate"], ["users", "list"], ["serve"]):
        assert newer in failure(*command, "--database", db)


def test_a_write_blocked_by_another_process_is_one_line(db: str, tmp_path: Path) -> None:
    run("migrate", "--database", db)
    other = sqlite3.connect(tmp_path / "cli.db", isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")  # as a server leaves it: readers go on
    other.execute("BEGIN EXCLUSIVE")
    try:
        out = failure(
            *("users", "add", "a@contoso.com", "--name", "A", "--password", "p"),
            *("--database", db),
            env={"OPENUCWA_DATABASE_BUSY_TIMEOUT": "0.2"},
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked by another process" in out
    assert "a@contoso.com" not in run("users", "list", "--database", db)


def test_migrate_does_not_change_the_schema_under_a_running_server(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    held = lock_for_server(db)  # what `openucwa serve` holds (from another process)
    try:
        out = failure("migrate", "--database", db)
        assert "is serving" in out and "stop it before migrating" in out
    finally:
        held.close()
    assert "applied" in run("migrate", "--database", db)


@pytest.mark.server
def test_a_second_server_on_one_database_refuses_and_other_commands_still_work(
    db: str, tmp_path: Path
) -> None:
    run("migrate", "--database", db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "openucwa", "serve", "--port", str(port), "--database", db]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        lock_file, deadline = tmp_path / "cli.db.lock", time.monotonic() + 20
        while not (lock_file.exists() and lock_file.read_text().strip() == str(server.pid)):
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server never took its lock"
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-m", "openucwa", "serve", "--port", "0", "--database", db],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1, second
        assert second.stderr.strip() == (
            f"Error: another openucwa server (pid {server.pid}) is serving {tmp_path / 'cli.db'}:"
            " one server process per database file"
        )
        assert "up to date" in run("migrate", "--database", db)
        run("users", "add", "e@contoso.com", "--name", "E", "--password", "p", "--database", db)
        assert "sip:e@contoso.com" in run("users", "list", "--database", db)
    finally:
        server.kill()
        server.wait(timeout=10)
        log.close()


@pytest.mark.parametrize(
    "name", ["Eve\nmallory@contoso.com  Mallory", "tab\there", "\x1b[31mred", "n" * 257]
)
def test_users_add_refuses_names_that_break_lines_or_run_long(db: str, name: str) -> None:
    run("migrate", "--database", db)
    out = failure("users", "add", "eve@contoso.com", "--name", name, "--password", "p",
                  "--database", db)  # fmt: skip
    assert "--name" in out and "printable" in out
    assert "eve@contoso.com" not in run("users", "list", "--database", db)


def test_users_add_notes_a_user_outside_the_organisation(db: str) -> None:
    run("migrate", "--database", db)
    result = CliRunner().invoke(
        main,
        ["users", "add", "guest@fabrikam.com", "--name", "Guest", "--password", "p",
         "--database", db],
        env={"OPENUCWA_DOMAINS": "contoso.com"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added sip:guest@fabrikam.com" in result.output
    assert "fabrikam.com is not one of the organisation's domains" in result.output
