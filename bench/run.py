"""Benchmark the real server against a bare ASGI endpoint, both under wrk, in one run.

    scripts/bench [--rounds 3] [--duration 5] [--connections 32] [--json results.json]

Steps: a temp dir with a fresh, migrated SQLite database and a few users; ``openucwa serve`` as
a subprocess on a free 127.0.0.1 port; sign-in and an application per user over HTTP, one
meeting created by following links; the bare endpoint (bench/bare_app.py) on another port with
a JSON body as large as the GET-meeting response; then wrk for each case (a warm-up, then the
measured run). The table gives requests/s, p50 and p99 and the ratio of requests/s to the bare
endpoint. After the POST run the server is killed with SIGKILL and the meetings table is counted:
every acknowledged POST must be in the database.

Exit status: 0 all targets met; 1 a target missed; 2 the run is invalid (non-2xx responses,
socket errors, lost meetings, a process that would not start).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import (
    DOMAIN,
    HERE,
    BenchError,
    Service,
    cpu_seconds,
    create_application,
    free_port,
    get_token,
    guarded_main,
    log,
    openucwa_command,
    pin_cpus,
    pinned,
    prepare_database,
    server_env,
    start_server,
    start_service,
    stop_service,
    wait_ready,
)

WRK_DIR = HERE / "wrk"
SCHEDULED_REL = "myOnlineMeetings"  # meetings.online_meeting_rel of a scheduled meeting
MEETING: dict[str, Any] = {
    "subject": "Benchmark weekly sync",
    "description": "Created by bench/run.py to measure POST myOnlineMeetings.",
    "accessLevel": "Everyone",
    "attendees": [f"sip:bench1@{DOMAIN}", f"sip:bench2@{DOMAIN}"],
    "leaders": [f"sip:bench1@{DOMAIN}"],
    "automaticLeaderAssignment": "SameEnterprise",
    "entryExitAnnouncement": "Disabled",
}
BARE_GET, GET, BARE_POST, POST = "bare GET", "meeting GET", "bare POST", "meeting POST"
TARGETS: dict[str, float] = {GET: 0.5, POST: 0.25}
# Each case is compared with the bare endpoint answering the very same requests in the same round.
BASELINE: dict[str, str] = {GET: BARE_GET, POST: BARE_POST}
# --calibrate: the bare endpoint with a durable write, and with a fixed amount of CPU per POST.
DURABLE_POST = "bare POST + durable write"


def burn_case(us: int) -> str:
    return f"bare POST + {us} us CPU"


WRK_SLACK = 60  # seconds a wrk run may take beyond its duration before it is killed


# -- wrk -------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    non2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    server_cpu_us: float | None = None  # CPU time of the server process per response
    loop_cpu_us: float | None = None  # of that, its first thread's: the event loop

    @property
    def ok_responses(self) -> int:
        return self.requests - self.non2xx

    @property
    def error_count(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m|h)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+(\d+(?:\.\d+)?)", re.M)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TOTAL = re.compile(r"^\s*(\d+) requests in (\d+(?:\.\d+)?)(us|ms|s|m|h)", re.M)


def to_ms(value: float, unit: str) -> float:
    return value * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of one wrk run: the BENCH_RESULT line of the scripts' done() hook when
    present (exact microseconds), else wrk's own text (``--latency`` distribution)."""
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            d = json.loads(line.removeprefix("BENCH_RESULT "))
            duration_s = d["duration_us"] / 1e6
            return WrkResult(
                requests=d["requests"],
                duration_s=duration_s,
                rps=d["requests"] / duration_s if duration_s else 0.0,
                p50_ms=d["p50_us"] / 1000,
                p99_ms=d["p99_us"] / 1000,
                mean_ms=d["mean_us"] / 1000,
                max_ms=d["max_us"] / 1000,
                non2xx=d["non2xx"],
                socket_errors={k: d[k] for k in ("connect", "read", "write", "timeout") if d[k]},
            )
    percentiles = {p: to_ms(float(v), u) for p, v, u in _PERCENTILE.findall(output)}
    rps, total = _RPS.search(output), _TOTAL.search(output)
    if rps is None or total is None or "50" not in percentiles or "99" not in percentiles:
        raise BenchError(f"cannot parse the wrk output:\n{output}")
    non2xx = _NON2XX.search(output)
    sockets = _SOCKET.search(output)
    names = ("connect", "read", "write", "timeout")
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=to_ms(float(total.group(2)), total.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        mean_ms=float("nan"),
        max_ms=float("nan"),
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=(
            {n: int(v) for n, v in zip(names, sockets.groups(), strict=True) if int(v)}
            if sockets
            else {}
        ),
    )


@dataclass
class Load:
    threads: int
    connections: int
    cpu: int | None  # the CPU wrk is pinned to, if any


def run_wrk(
    load: Load,
    target: Service,
    path: str,
    script: str,
    script_args: Sequence[str],
    duration: int,
) -> WrkResult:
    argv = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(WRK_DIR / script),
        target.base_url + path,
        "--",
        *script_args,
    ]
    pid = target.proc.pid
    cpu_before, loop_before = cpu_seconds(pid), cpu_seconds(pid, pid)
    try:
        done = subprocess.run(
            pinned(argv, load.cpu),
            capture_output=True,
            text=True,
            timeout=duration + WRK_SLACK,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {duration + WRK_SLACK}s") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = parse_wrk(done.stdout)
    cpu_after, loop_after = cpu_seconds(pid), cpu_seconds(pid, pid)
    if cpu_before is not None and cpu_after is not None and result.requests:
        result.server_cpu_us = (cpu_after - cpu_before) * 1e6 / result.requests
    if loop_before is not None and loop_after is not None and result.requests:
        result.loop_cpu_us = (loop_after - loop_before) * 1e6 / result.requests
    return result


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (
        (done.stdout or done.stderr).splitlines()[0].strip() if done.stdout or done.stderr else ""
    )


# -- the server under test -------------------------------------------------------------------


@dataclass
class Session:
    user: str
    token: str
    meetings_href: str  # myOnlineMeetings, the POST target


def sign_in(client: httpx.Client, user: str) -> Session:
    token = get_token(client, user)
    app = create_application(client, token)
    href = app["_embedded"]["onlineMeetings"]["_links"]["myOnlineMeetings"]["href"]
    return Session(user=user, token=token, meetings_href=str(href))


def create_meeting(client: httpx.Client, session: Session, body: bytes) -> str:
    response = client.post(
        session.meetings_href,
        content=body,
        headers={
            "Authorization": f"Bearer {session.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    if response.status_code != 201:
        raise BenchError(f"POST {session.meetings_href}: {response.status_code} {response.text}")
    return str(response.json()["_links"]["self"]["href"])


def meeting_body_size(client: httpx.Client, session: Session, href: str) -> int:
    """The size of the GET response wrk will receive (same headers: JSON, no gzip)."""
    response = client.get(
        href,
        headers={
            "Authorization": f"Bearer {session.token}",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        },
    )
    if response.status_code != 200 or response.headers.get("content-encoding"):
        raise BenchError(f"GET {href}: {response.status_code} {response.headers}")
    return len(response.content)


def count_scheduled_meetings(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        (count,) = conn.execute(
            "SELECT count(*) FROM meetings WHERE online_meeting_rel = ?", (SCHEDULED_REL,)
        ).fetchone()
        return int(count)
    finally:
        conn.close()


# -- the run ---------------------------------------------------------------------------------


@dataclass
class CaseResult:
    """One case over all rounds: medians of the rounds, errors summed."""

    case: str
    target: float | None = None
    runs: list[WrkResult] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # to the baseline run of the same round

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def cpu_us(self) -> float | None:
        values = [r.server_cpu_us for r in self.runs if r.server_cpu_us is not None]
        return statistics.median(values) if values else None

    @property
    def loop_cpu_us(self) -> float | None:
        values = [r.loop_cpu_us for r in self.runs if r.loop_cpu_us is not None]
        return statistics.median(values) if values else None

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def non2xx(self) -> int:
        return sum(r.non2xx for r in self.runs)

    @property
    def socket_errors(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for r in self.runs:
            for kind, n in r.socket_errors.items():
                total[kind] = total.get(kind, 0) + n
        return total

    @property
    def valid(self) -> bool:
        return self.non2xx == 0 and not self.socket_errors

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.valid and self.ratio >= self.target

    def verdict(self) -> str:
        problems = []
        if self.non2xx:
            problems.append(f"{self.non2xx} non-2xx")
        if self.socket_errors:
            problems.append(", ".join(f"{v} {k}" for k, v in self.socket_errors.items()))
        if problems:
            return "INVALID (" + "; ".join(problems) + ")"
        if self.passed is None:
            return "-"
        return "pass" if self.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "server_cpu_us_per_request": self.cpu_us,
            "event_loop_cpu_us_per_request": self.loop_cpu_us,
            "ratio": self.ratio,
            "target": self.target,
            "passed": self.passed,
            "valid": self.valid,
            "non2xx": self.non2xx,
            "socket_errors": self.socket_errors,
            "rounds": [asdict(r) for r in self.runs],
            "round_ratios": self.ratios,
        }


@dataclass
class Durability:
    acknowledged: int  # POSTs answered 2xx (setup, warm-up and measured runs)
    stored: int  # scheduled meetings in the database after SIGKILL

    @property
    def ok(self) -> bool:
        return self.stored >= self.acknowledged


def table(cases: Sequence[CaseResult]) -> str:
    rows = [
        "| case | req/s | p50 ms | p99 ms | ratio to bare | target | pass/fail "
        "| server CPU us/req | of which event loop |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in cases:
        ratio = f"{c.ratio:.2f}" if c.ratio is not None else "-"
        target = f">= {c.target:.2f}" if c.target is not None else "-"
        cpu = f"{c.cpu_us:.0f}" if c.cpu_us is not None else "-"
        loop = f"{c.loop_cpu_us:.0f}" if c.loop_cpu_us is not None else "-"
        rows.append(
            f"| {c.case} | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {ratio} | {target} "
            f"| {c.verdict()} | {cpu} | {loop} |"
        )
    return "\n".join(rows)


@dataclass
class Case:
    name: str
    target: Service
    path: str
    script: str
    script_args: list[str]


def run(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (scripts/bench installs it: apt-get install wrk)")
    cpus = os.cpu_count() or 1
    server_cpu, wrk_cpu = pin_cpus(args.pin)
    pin = server_cpu is not None
    load = Load(threads=args.threads, connections=args.connections, cpu=wrk_cpu)
    users = [f"bench{i}@{DOMAIN}" for i in range(args.users)]
    cli = openucwa_command()
    services: list[Service] = []
    body = json.dumps(MEETING, separators=(",", ":")).encode()
    names = [BARE_GET, GET, BARE_POST]
    calibration = [DURABLE_POST, burn_case(args.burn_us)] if args.calibrate else []
    names += calibration
    names.append(POST)
    results = {name: CaseResult(name, TARGETS.get(name)) for name in names}

    with tempfile.TemporaryDirectory(prefix="openucwa-bench-") as tmp:
        workdir = Path(tmp)
        db_path = workdir / "bench.db"
        database = f"sqlite:///{db_path}"
        env = server_env(
            {
                "OPENUCWA_DOMAINS": DOMAIN,
                "OPENUCWA_LOG_LEVEL": "warning",
                # POSTs are spread over the users; lift the per-user cap (1000) out of reach.
                "OPENUCWA_MAX_MEETINGS_PER_USER": str(10**9),
            }
        )
        try:
            log(f"database {database}, {len(users)} users")
            prepare_database(cli, database, users, env)

            server = start_server(cli, database, env, workdir, server_cpu)
            services.append(server)

            with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
                sessions = [sign_in(client, user) for user in users]
                meeting_href = create_meeting(client, sessions[0], body)
                body_bytes = meeting_body_size(client, sessions[0], meeting_href)
            log(f"meeting {meeting_href}: GET body {body_bytes} bytes")

            bare_port = free_port()
            bare_argv = [sys.executable, str(HERE / "bare_app.py"), "--port", str(bare_port)]
            bare_env = {**env, "BENCH_BODY_BYTES": str(body_bytes)}
            bare = start_service(
                "bare", pinned(bare_argv, server_cpu), bare_env, bare_port, workdir
            )
            services.append(bare)
            wait_ready(bare)

            token = sessions[0].token
            post_args = [body.decode()]
            for s in sessions:
                post_args += [s.meetings_href, s.token]
            # The bare endpoint gets the very request the meeting GET gets (path and headers).
            plan = [
                Case(BARE_GET, bare, meeting_href, "get.lua", [token]),
                Case(GET, server, meeting_href, "get.lua", [token]),
                Case(BARE_POST, bare, "/", "post.lua", post_args),
            ]
            if args.calibrate:
                variants = [
                    (DURABLE_POST, "bare-durable", {"BENCH_DURABLE_DB": str(workdir / "bare.db")}),
                    (burn_case(args.burn_us), "bare-burn", {"BENCH_BURN_US": str(args.burn_us)}),
                ]
                for name, slug, extra in variants:
                    port = free_port()
                    argv = [sys.executable, str(HERE / "bare_app.py"), "--port", str(port)]
                    variant = start_service(
                        slug, pinned(argv, server_cpu), {**bare_env, **extra}, port, workdir
                    )
                    services.append(variant)
                    wait_ready(variant)
                    plan.append(Case(name, variant, "/", "post.lua", post_args))
            plan.append(Case(POST, server, "/", "post.lua", post_args))
            acknowledged = 1  # the meeting created above
            for round_ in range(1, args.rounds + 1):
                round_rps: dict[str, float] = {}
                for case in plan:
                    if round_ == 1 and args.warmup > 0:
                        log(f"{case.name}: warm-up {args.warmup}s")
                        warm = run_wrk(
                            load, case.target, case.path, case.script, case.script_args, args.warmup
                        )
                        if case.name == POST:
                            acknowledged += warm.ok_responses
                    log(f"round {round_}/{args.rounds}, {case.name}: {args.duration}s")
                    result = run_wrk(
                        load, case.target, case.path, case.script, case.script_args, args.duration
                    )
                    if case.name == POST:
                        acknowledged += result.ok_responses
                    round_rps[case.name] = result.rps
                    collected = results[case.name]
                    collected.runs.append(result)
                    baseline = BASELINE.get(case.name) or (
                        BARE_POST if case.name in calibration else case.name
                    )
                    baseline_rps = round_rps.get(baseline, 0.0)
                    if baseline_rps:
                        collected.ratios.append(result.rps / baseline_rps)

            # Durability: kill the server without warning, then count what is on disk.
            stop_service(server, signal.SIGKILL)
            durability = Durability(acknowledged, count_scheduled_meetings(db_path))
        finally:
            for service in reversed(services):
                stop_service(service)

    cases = list(results.values())
    print()
    print(
        f"openucwa bench: {args.rounds} x {args.duration}s per case (after {args.warmup}s "
        f"warm-up), wrk -t{load.threads} -c{load.connections}, one uvicorn worker (uvloop, "
        f"httptools), GET body {body_bytes} B, POSTs over {len(users)} users"
        + (f", servers on CPU {server_cpu} and wrk on CPU {wrk_cpu}" if pin else "")
    )
    if args.rounds > 1:
        print("figures are medians over the rounds; ratios are taken within each round")
    print()
    print(table(cases))
    print()
    post, bare_get = results[POST], results[BARE_GET]
    if post.runs and bare_get.runs:  # the stricter reading, for the record
        print(f"meeting POST against bare GET: {post.rps / bare_get.rps:.2f}")
    durable = results.get(DURABLE_POST)
    if durable is not None and durable.runs and post.runs:  # the baseline that also commits
        print(f"meeting POST against bare POST + durable write: {post.rps / durable.rps:.2f}")
    verdict = "ok" if durability.ok else "LOST MEETINGS"
    print(
        f"durability: {durability.stored} meetings in the database after SIGKILL, "
        f"{durability.acknowledged} POSTs acknowledged -> {verdict}"
    )
    invalid = [c.case for c in cases if not c.valid]
    if invalid:
        print(f"INVALID RUN: errors in {', '.join(invalid)} (see the pass/fail column)")

    valid = not invalid and durability.ok
    all_passed = valid and all(c.passed is not False for c in cases)
    if args.json:
        report = {
            "config": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "rounds": args.rounds,
                "connections": load.connections,
                "threads": load.threads,
                "users": len(users),
                "pinned": pin,
            },
            "environment": {
                "cpus": cpus,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "wrk": wrk_version(),
            },
            "body_bytes": body_bytes,
            "cases": [c.as_dict() for c in cases],
            "durability": {**asdict(durability), "ok": durability.ok},
            "valid": valid,
            "passed": all_passed,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {args.json}")
    if not valid:
        return 2
    return 0 if all_passed else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark openucwa (meeting GET and POST) against a bare ASGI endpoint.",
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per case and round (5)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per case (2)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="repeat bare/GET/POST this often, interleaved; report medians (3: the host's speed "
        "drifts by 20-35 %% within minutes, and one round can land on a slow one)",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--users", type=int, default=8, help="users the POSTs are spread over")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="also run the bare endpoint with a durable write per POST (openucwa's SQLite "
        "write path) and with --burn-us of CPU per POST: what durability and application "
        "work cost under this load (no targets)",
    )
    parser.add_argument(
        "--burn-us", type=int, default=80, help="CPU per POST of the --calibrate case (80)"
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server to CPU 0 and wrk to CPU 1 (pinned when taskset and "
        "two CPUs are available)",
    )
    args = parser.parse_args(argv)
    if args.burn_us < 1:
        parser.error("--burn-us >= 1")
    if args.duration < 1 or args.warmup < 0 or args.users < 1 or args.rounds < 1:
        parser.error("--duration >= 1, --rounds >= 1, --warmup >= 0 and --users >= 1")
    if args.threads < 1 or args.connections < args.threads:
        parser.error("--threads >= 1 and --connections >= --threads")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
