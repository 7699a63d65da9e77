"""What the benchmarks share: the server as a subprocess (start, wait, stop, CPU and memory),
a fresh database with users, and sign-in over HTTP like a client.

Used by bench/run.py (meeting GET/POST under wrk) and bench/events.py (event channel, IM).
Everything talks to 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"  # the only address the benchmarks ever talk to
DOMAIN = "contoso.com"
PASSWORD = "bench-password-1"
APPLICATIONS = "/ucwa/oauth/v1/applications"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """The run cannot go on (a process failed, a response was not what the setup needs)."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- processes -----------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def pinned(argv: Sequence[str], cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None else list(argv)


def pin_cpus(pin: bool) -> tuple[int | None, int | None]:
    """(server CPU, load-generator CPU): 0 and 1 when asked for, taskset exists and the machine
    has at least two CPUs; else (None, None)."""
    if pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None:
        return 0, 1
    return None, None


def start_service(
    name: str, argv: Sequence[str], env: Mapping[str, str], port: int, workdir: Path
) -> Service:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,  # a Ctrl-C reaches the driver only; it stops the children
        )
    return Service(name, proc, port, log_path)


def wait_ready(service: Service, path: str = "/") -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=service.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if service.proc.poll() is not None:
                raise BenchError(
                    f"{service.name} exited with {service.proc.returncode}:\n{service.log_tail()}"
                )
            try:
                if client.get(path).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise BenchError(f"{service.name} not ready after {READY_TIMEOUT:.0f}s:\n{service.log_tail()}")


def stop_service(service: Service, sig: int = signal.SIGTERM) -> None:
    proc = service.proc
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def cpu_seconds(pid: int, tid: int | None = None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None where unavailable;
    with ``tid``, of that one thread (a process's first thread has ``tid == pid``)."""
    where = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        stat = Path(where).read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int | None:
    """Resident set size of a process in KiB (``VmRSS`` of /proc/PID/status), or None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def open_fds(pid: int) -> int | None:
    """Open file descriptors of a process (sockets included), or None where unavailable."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


# -- the server under test -------------------------------------------------------------------


def openucwa_command() -> str:
    beside = Path(sys.executable).parent / "openucwa"
    found = str(beside) if beside.exists() else shutil.which("openucwa")
    if found is None:
        raise BenchError("openucwa is not installed (run `make install`)")
    return found


def server_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without any OPENUCWA_* setting, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUCWA_")}
    env.update(extra)
    return env


# Adds users through the CLI's own `users add` command, many in one process (one interpreter
# start instead of one per user): the JSON list of [sip, name, password, database] on stdin.
_ADD_USERS = """
import json, sys
from openucwa.cli import main
for sip, name, password, database in json.load(sys.stdin):
    main(["users", "add", sip, "--name", name, "--password", password,
          "--database", database], standalone_mode=False)
"""


def prepare_database(cli: str, database: str, users: Sequence[str], env: Mapping[str, str]) -> None:
    """Migrate ``database`` (``openucwa migrate``) and add ``users`` with PASSWORD
    (``openucwa users add``: argon2 hashes as in production)."""
    done = subprocess.run(
        [cli, "migrate", "--database", database],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"openucwa migrate failed:\n{done.stdout}{done.stderr}")
    python = Path(cli).parent / "python"
    rows = [[u, f"Bench User {i}", PASSWORD, database] for i, u in enumerate(users)]
    done = subprocess.run(
        [str(python if python.exists() else sys.executable), "-c", _ADD_USERS],
        input=json.dumps(rows),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120 + len(users),
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"openucwa users add failed:\n{done.stdout}{done.stderr}")


def start_server(
    cli: str,
    database: str,
    env: Mapping[str, str],
    workdir: Path,
    cpu: int | None = None,
    extra_args: Sequence[str] = (),
    name: str = "openucwa",
) -> Service:
    """``openucwa serve`` on a free 127.0.0.1 port (one uvicorn worker, uvloop, httptools),
    pinned to ``cpu`` when given; returns once it answers HTTP."""
    port = free_port()
    argv = [cli, "serve", "--host", HOST, "--port", str(port), "--database", database]
    server = start_service(name, pinned([*argv, *extra_args], cpu), env, port, workdir)
    try:
        wait_ready(server)
    except BaseException:
        stop_service(server)
        raise
    return server


# -- sign-in over HTTP -------------------------------------------------------------------------


def token_request(user: str) -> dict[str, str]:
    return {"grant_type": "password", "username": user, "password": PASSWORD}


def application_request(endpoint_id: str = "b1") -> dict[str, str]:
    return {"UserAgent": "bench", "EndpointId": endpoint_id, "Culture": "en-US"}


def get_token(client: httpx.Client, user: str) -> str:
    """``POST /WebTicket/oauthtoken`` (password grant): the bearer token of ``user``."""
    response = client.post("/WebTicket/oauthtoken", data=token_request(user))
    if response.status_code != 200:
        raise BenchError(f"sign-in of {user}: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


def create_application(client: httpx.Client, token: str, endpoint_id: str = "b1") -> Any:
    """``POST /ucwa/oauth/v1/applications``: the application resource (parsed JSON)."""
    response = client.post(
        APPLICATIONS,
        json=application_request(endpoint_id),
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code not in (200, 201):
        raise BenchError(f"application: {response.status_code} {response.text}")
    return response.json()


async def get_token_async(client: httpx.AsyncClient, user: str) -> str:
    response = await client.post("/WebTicket/oauthtoken", data=token_request(user))
    if response.status_code != 200:
        raise BenchError(f"sign-in of {user}: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


async def create_application_async(
    client: httpx.AsyncClient, token: str, endpoint_id: str = "b1"
) -> Any:
    response = await client.post(
        APPLICATIONS,
        json=application_request(endpoint_id),
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code not in (200, 201):
        raise BenchError(f"application: {response.status_code} {response.text}")
    return response.json()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def guarded_main(run: Callable[[], int]) -> int:
    """Run a benchmark: SIGTERM (timeout, CI cancel) and SIGINT unwind through the finally
    blocks that stop the servers and the load generators; exit 2 on an invalid run."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return run()
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        return 130
