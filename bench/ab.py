"""Compare two versions of openucwa side by side: both servers on the same CPU at the same time.

    scripts/bench --ab REV_A [REV_B] [--case post|get] [--rounds 6] [--duration 5]

REV_A and REV_B are git revisions (REV_B defaults to the working tree). Each is checked out into
a temporary git worktree and served by ``openucwa serve`` with ``PYTHONPATH=<worktree>/src``
(the virtualenv's dependencies, this checkout's code of that revision), each on a fresh
database with the same users. Both servers are pinned to CPU 0 and loaded at the same moment
by two wrk processes on CPU 1, for ``--rounds`` rounds of ``--duration`` seconds.

Why side by side: this machine's speed drifts by 20-35 % within minutes, so two servers
measured one after the other (even in alternating rounds) differ by as much as most changes
are worth. Run at the same moment on one CPU, both see the same drift and share the CPU
fairly: the ratio of their requests per second is the ratio of their CPU cost per request.
Measured A/A (the same code twice): every round within 1.6 %, medians within 0.3 %.

What it cannot show: anything that depends on having the CPU alone (each server gets about
half of it, so group commits are smaller than under ``make bench``) or on the table growing as
fast as in ``make bench``. Confirm a change with ``make bench`` as well.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import (
    DOMAIN,
    BenchError,
    Service,
    cpu_seconds,
    guarded_main,
    log,
    openucwa_command,
    pin_cpus,
    prepare_database,
    server_env,
    start_server,
    stop_service,
)
from run import MEETING, Case, Load, WrkResult, create_meeting, run_wrk, sign_in

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Side:
    label: str
    revision: str | None  # None: the working tree
    source: Path
    server: Service | None = None
    case: Case | None = None
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


def checkout(revision: str, into: Path) -> Path:
    """A detached worktree of ``revision`` at ``into``; returns its ``src``."""
    done = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(into), revision],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"git worktree add {revision} failed:\n{done.stderr}")
    return into / "src"


def remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
        capture_output=True,
        check=False,
    )


def start_side(side: Side, args: argparse.Namespace, workdir: Path, cpu: int | None) -> None:
    users = [f"bench{i}@{DOMAIN}" for i in range(args.users)]
    cli = openucwa_command()
    env = server_env(
        {
            "OPENUCWA_DOMAINS": DOMAIN,
            "OPENUCWA_LOG_LEVEL": "warning",
            "OPENUCWA_MAX_MEETINGS_PER_USER": str(10**9),
            "PYTHONPATH": str(side.source),
        }
    )
    database = f"sqlite:///{workdir / (side.label + '.db')}"
    prepare_database(cli, database, users, env)
    side.server = start_server(cli, database, env, workdir, cpu, name=f"openucwa-{side.label}")
    body = json.dumps(MEETING, separators=(",", ":")).encode()
    with httpx.Client(base_url=side.server.base_url, timeout=30.0, trust_env=False) as client:
        sessions = [sign_in(client, user) for user in users]
        meeting_href = create_meeting(client, sessions[0], body)
    if args.case == "get":
        side.case = Case("meeting GET", side.server, meeting_href, "get.lua", [sessions[0].token])
    else:
        post_args = [body.decode()]
        for s in sessions:
            post_args += [s.meetings_href, s.token]
        side.case = Case("meeting POST", side.server, "/", "post.lua", post_args)


def load_both(sides: Sequence[Side], load: Load, duration: int) -> dict[str, WrkResult]:
    results: dict[str, WrkResult] = {}
    errors: list[BaseException] = []

    def run(side: Side) -> None:
        assert side.case is not None
        try:
            results[side.label] = run_wrk(
                load, side.case.target, side.case.path, side.case.script, side.case.script_args,
                duration,
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(side,)) for side in sides]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    for side in sides:
        result = results[side.label]
        if result.non2xx or result.socket_errors:
            raise BenchError(f"{side.label}: {result.non2xx} non-2xx, {result.socket_errors}")
    return results


def run(args: argparse.Namespace) -> int:
    server_cpu, wrk_cpu = pin_cpus(True)
    if server_cpu is None:
        raise BenchError("side by side needs taskset and at least two CPUs")
    load = Load(threads=1, connections=args.connections, cpu=wrk_cpu)
    with tempfile.TemporaryDirectory(prefix="openucwa-ab-") as tmp:
        workdir = Path(tmp)
        sides = []
        worktrees: list[Path] = []
        try:
            for label, revision in (("A", args.rev_a), ("B", args.rev_b)):
                if revision is None:
                    source = REPO / "src"
                else:
                    worktrees.append(workdir / f"tree-{label}")
                    source = checkout(revision, worktrees[-1])
                sides.append(Side(label, revision, source))
            for side in sides:
                log(f"{side.label}: {side.revision or 'working tree'} ({side.source})")
                start_side(side, args, workdir, server_cpu)
            log(f"warm-up {args.warmup}s")
            load_both(sides, load, args.warmup)
            for r in range(args.rounds):
                before = {s.label: cpu_seconds(s.server.proc.pid) for s in sides if s.server}
                results = load_both(sides, load, args.duration)
                for side in sides:
                    assert side.server is not None
                    result = results[side.label]
                    side.rps.append(result.rps)
                    after = cpu_seconds(side.server.proc.pid)
                    start = before.get(side.label)
                    if after is not None and start is not None and result.requests:
                        side.cpu_us.append((after - start) * 1e6 / result.requests)
                a, b = sides[0].rps[-1], sides[1].rps[-1]
                log(f"round {r + 1}/{args.rounds}: A {a:,.0f} B {b:,.0f} req/s, B/A {b / a:.3f}")
        finally:
            for side in sides:
                if side.server is not None:
                    stop_service(side.server)
            for tree in worktrees:
                remove_worktree(tree)
    ratios = [b / a for a, b in zip(sides[0].rps, sides[1].rps, strict=True)]
    print()
    print(
        f"openucwa A/B, side by side: {args.case}, {args.rounds} x {args.duration}s, "
        f"wrk -t1 -c{args.connections} each, both servers on CPU {server_cpu}"
    )
    print()
    print("| side | revision | req/s (median) | server CPU us/req (median) |")
    print("|---|---|---:|---:|")
    for side in sides:
        cpu = f"{statistics.median(side.cpu_us):.0f}" if side.cpu_us else "-"
        print(
            f"| {side.label} | {side.revision or 'working tree'} "
            f"| {statistics.median(side.rps):,.0f} | {cpu} |"
        )
    print()
    print(
        f"B/A: median {statistics.median(ratios):.3f}, rounds "
        + ", ".join(f"{r:.3f}" for r in ratios)
    )
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ab.py",
        description="Two revisions of openucwa side by side on one CPU (see the module doc).",
    )
    parser.add_argument("rev_a", help="git revision of side A")
    parser.add_argument("rev_b", nargs="?", help="git revision of side B (the working tree)")
    parser.add_argument("--case", choices=("post", "get"), default="post")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=5, help="seconds per round (5)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections each (32)")
    parser.add_argument("--users", type=int, default=8, help="users the POSTs are spread over")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.users < 1:
        parser.error("--rounds, --duration and --users >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
