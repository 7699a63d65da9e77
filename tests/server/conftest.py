"""The real server as a subprocess: a freshly migrated SQLite database in ``tmp_path``, a user
added through the real CLI, ``openucwa serve`` on a free port. Every process started here is
killed in teardown, whatever the test did."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SIP = "bmauldin@contoso.com"
NAME = "Bill Mauldin"
PASSWORD = "bill-server-pass"
READY_TIMEOUT = 20.0  # seconds until GET / must answer
CLI_TIMEOUT = 60.0


def cli_command() -> list[str]:
    """The ``openucwa`` console script of the interpreter running the tests."""
    script = Path(sys.executable).parent / "openucwa"
    return [str(script)] if script.exists() else [sys.executable, "-m", "openucwa"]


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUCWA_")}
    env["OPENUCWA_LOG_LEVEL"] = "warning"
    env.update(extra or {})
    return env


def run_cli(*args: str) -> str:
    done = subprocess.run(
        [*cli_command(), *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=_environment(),
        check=False,
    )
    assert done.returncode == 0, f"openucwa {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def sigkill(self) -> None:
        """Kill without any chance to clean up (no lifespan shutdown, no final commit)."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Servers:
    """Starts ``openucwa serve`` processes on one database; kills them all in teardown."""

    tmp_path: Path
    database: str
    started: list[ServerProcess] = field(default_factory=list)

    def start(
        self,
        port: int | None = None,
        env: dict[str, str] | None = None,
        open_files: tuple[int, int] | None = None,
    ) -> ServerProcess:
        """``env``: extra ``OPENUCWA_*`` settings for this process (e.g. a short event wait);
        ``open_files``: the (soft, hard) RLIMIT_NOFILE it starts with."""
        port = free_port() if port is None else port

        def limit() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

        log = self.tmp_path / f"server-{len(self.started)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*cli_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
                + ["--database", self.database],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_environment(env),
                preexec_fn=limit if open_files is not None else None,  # noqa: PLW1509
            )
        server = ServerProcess(process, port, log)
        self.started.append(server)
        self._wait_ready(server)
        return server

    def _wait_ready(self, server: ServerProcess) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last_error = ""
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if server.process.poll() is not None:
                    pytest.fail(f"openucwa serve exited early:\n{server.output()}")
                try:
                    if client.get(server.url + "/").status_code == 200:
                        return
                except httpx.TransportError as exc:
                    last_error = repr(exc)
                time.sleep(0.05)  # bounded readiness polling
        pytest.fail(f"server not ready after {READY_TIMEOUT}s ({last_error}):\n{server.output()}")

    def stop_all(self) -> None:
        for server in self.started:
            if server.process.poll() is None:
                server.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):  # nothing more we can do
                server.process.wait(timeout=10)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    database = f"sqlite:///{tmp_path / 'openucwa.db'}"
    run_cli("migrate", "--database", database)
    run_cli("users", "add", SIP, "--name", NAME, "--password", PASSWORD, "--database", database)
    pool = Servers(tmp_path, database)
    try:
        yield pool
    finally:
        pool.stop_all()
