"""Benchmark the event channel and instant messaging (issue 3), one table.

    .venv/bin/python bench/events.py [--cases latency,idle,throughput] [--json FILE]
    make bench-events  (= scripts/bench --events)

Three cases, each against a fresh ``openucwa serve`` (one uvicorn worker) on 127.0.0.1, all on
one temp database whose users are added up front (bench/common.py, as for bench/run.py):

latency     Two users, each with an application; the receiver makes itself available, the
            sender starts messaging, the receiver accepts. Then, ``--messages`` times (after
            ``--warmup-messages``): the receiver has a P-GET parked on its ``next`` href, the
            sender POSTs text/plain to sendMessage, and the time from just before the POST to
            the receiver's P-GET returning the batch with that message's ``message completed``
            (Incoming) is recorded. httpx.AsyncClient, keep-alive, the next P-GET issued as soon
            as the previous one returned. Target: p99 <= 10 ms. The loop is then repeated on
            raw sockets (bench/rawhttp.py) to separate the client's share.
idle        ``--polls`` applications (``--apps-per-user`` per user, distinct EndpointIds), each
            made available and its first batch fetched; then one P-GET held open on each (raw
            sockets, bench/rawhttp.py; the server holds them up to ``--hold`` seconds). Server
            RSS (/proc/PID/status VmRSS) before and after all are parked gives KB per held poll
            (target <= 20 KB). Then the burst: one application of another user starts messaging
            with every user once, so each of the user's applications gets one incoming
            invitation -- exactly one answer per held P-GET, a batch of the four High events of
            an incoming invitation (messagingInvitation started, conversation added,
            localParticipant and participant added) -- and the time until all have answered is
            reported. Baseline: as many requests held by bench/bare_app.py (BENCH_HOLD=1).
throughput  ``--pairs`` connected sender/receiver pairs; every sender POSTs sendMessage back to
            back on its own keep-alive connection for ``--duration`` seconds while every receiver
            keeps a P-GET going (raw sockets). Messages accepted (201) and delivered (counted on
            the receivers' event channels) per second; every accepted message must arrive.

Exit status: 0 every target met, 1 a target missed, 2 the run is invalid or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import rawhttp
from common import (
    DOMAIN,
    HERE,
    HOST,
    BenchError,
    Service,
    application_request,
    cpu_seconds,
    create_application_async,
    free_port,
    get_token_async,
    guarded_main,
    log,
    open_fds,
    openucwa_command,
    pin_cpus,
    pinned,
    prepare_database,
    rss_kb,
    server_env,
    start_server,
    start_service,
    stop_service,
    token_request,
    wait_ready,
)
from rawhttp import RawConnection, RawResponse, build_request, form_request, json_request

CASES = ("latency", "idle", "throughput")
MEDIUM_DELAY = 5.0  # seconds a Medium event waits for company (the server's default `medium`)
HTTP_TIMEOUT = 30.0  # any single request of the setup or of a measured loop
LATENCY_TARGET_MS = 10.0
MEMORY_TARGET_KB = 20.0


# -- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    figure: str
    target: str = "-"
    passed: bool | None = None  # None: no target

    def verdict(self) -> str:
        if self.passed is None:
            return "-"
        return "pass" if self.passed else "FAIL"


@dataclass
class CaseReport:
    name: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    valid: bool = True
    problems: list[str] = field(default_factory=list)

    def invalid(self, problem: str) -> None:
        self.valid = False
        self.problems.append(problem)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def table(reports: Sequence[CaseReport]) -> str:
    lines = ["| case | figure | target | pass/fail |", "|---|---|---|---|"]
    for report in reports:
        for row in report.rows:
            verdict = row.verdict() if report.valid else "INVALID"
            lines.append(f"| {row.case} | {row.figure} | {row.target} | {verdict} |")
    return "\n".join(lines)


# -- profiling (optional) ---------------------------------------------------------------------


class Profiler:
    """``--profile DIR``: py-spy samples the server during each case's measured part (not its
    setup) into ``DIR/<case>.txt`` (collapsed stacks: speedscope, flamegraph.pl, or the summary
    printed by ``--profile``). Sampling costs the server CPU: figures of a profiled run are for
    reading the profile, not for the table."""

    def __init__(self, directory: str | None, rate: int) -> None:
        self.directory = Path(directory) if directory else None
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self.files: list[Path] = []

    def begin(self, case: str, pid: int) -> None:
        if self.directory is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            raise BenchError("--profile needs py-spy (.venv/bin/pip install py-spy)")
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.directory / f"{case}.txt"
        argv = [spy, "record", "-p", str(pid), "-o", str(out), "-f", "raw", "-r", str(self.rate)]
        argv += ["--nolineno", "--threads", "--nonblocking"]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.files.append(out)
        time.sleep(0.5)  # attached before the measured part starts

    def end(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def summarize_profile(path: Path, top: int = 15) -> str:
    """Busy samples per thread, the frames with the most self time, and the project's own
    functions (``openucwa/``) by inclusive time, from a py-spy raw (collapsed) file."""
    threads: Counter[str] = Counter()
    self_count: Counter[str] = Counter()
    incl_count: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if len(frames) < 2 or not count.isdigit():
            continue
        n = int(count)
        total += n
        threads[frames[0].partition(": ")[2] or frames[0]] += n
        self_count[frames[-1]] += n
        for frame in set(frames[1:]):
            if "(openucwa/" in frame and "(openucwa/cli.py)" not in frame:
                incl_count[frame] += n
    if not total:
        return f"{path.name}: no samples"

    def share(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [f"{path.name}: {total} busy samples (% of them)"]
    lines += [f"  thread {t}: {share(n)}" for t, n in threads.most_common()]
    lines.append("  self time:")
    lines += [f"    {share(n)}  {f}" for f, n in self_count.most_common(top)]
    lines.append("  openucwa functions, inclusive:")
    lines += [f"    {share(n)}  {f}" for f, n in incl_count.most_common(top)]
    return "\n".join(lines)


# -- the UCWA client side (httpx) --------------------------------------------------------------


def sip(user: str) -> str:
    return f"sip:{user}"


@dataclass
class App:
    """One signed-in application as a client sees it."""

    user: str
    token: str
    href: str
    events: str  # the href of the next P-GET
    make_available: str | None
    start_messaging: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def parse_app(user: str, token: str, doc: Any) -> App:
    me_links = doc["_embedded"]["me"]["_links"]
    comm_links = doc["_embedded"]["communication"]["_links"]
    return App(
        user=user,
        token=token,
        href=str(doc["_links"]["self"]["href"]),
        events=str(doc["_links"]["events"]["href"]),
        make_available=me_links.get("makeMeAvailable", {}).get("href"),
        start_messaging=str(comm_links["startMessaging"]["href"]),
    )


def iter_events(batch: Any) -> list[tuple[str, Any]]:
    """(sender rel, event) of every event in a batch, in order."""
    return [(s["rel"], e) for s in batch.get("sender", ()) for e in s.get("events", ())]


def embedded(event: Any) -> Any:
    return event.get("_embedded", {}).get(event["link"]["rel"], {})


def incoming_messages(batch: Any) -> list[str]:
    """The plainMessage hrefs of the Incoming ``message completed`` events of a batch."""
    found = []
    for _, event in iter_events(batch):
        if event["link"]["rel"] != "message" or event.get("type") != "completed":
            continue
        message = embedded(event)
        if message.get("direction") == "Incoming":
            found.append(str(message.get("_links", {}).get("plainMessage", {}).get("href", "")))
    return found


async def sign_in_app(client: httpx.AsyncClient, user: str, endpoint_id: str = "b1") -> App:
    token = await get_token_async(client, user)
    return parse_app(user, token, await create_application_async(client, token, endpoint_id))


async def poll(client: httpx.AsyncClient, app: App) -> Any:
    """One P-GET on ``app.events``; moves ``app.events`` on to the ``next`` batch."""
    response = await client.get(app.events, headers=app.auth)
    if response.status_code != 200:
        raise BenchError(f"GET {app.events}: {response.status_code} {response.text}")
    batch = response.json()
    app.events = str(batch["_links"]["next"]["href"])
    return batch


async def poll_until(
    client: httpx.AsyncClient, app: App, found: Callable[[Any], Any], what: str, tries: int = 10
) -> Any:
    """P-GET until ``found(batch)`` is truthy (High events answer at once); that value."""
    for _ in range(tries):
        value = found(await poll(client, app))
        if value:
            return value
    raise BenchError(f"{app.user}: no {what} in {tries} batches")


async def post(
    client: httpx.AsyncClient, href: str, app: App, expect: int, **kwargs: Any
) -> httpx.Response:
    response = await client.post(href, headers=app.auth, **kwargs)
    if response.status_code != expect:
        raise BenchError(f"POST {href}: {response.status_code} {response.text}")
    return response


@dataclass
class Pair:
    sender: App
    receiver: App
    send_href: str  # the sender's sendMessage


def find_accept(batch: Any) -> str | None:
    for _, event in iter_events(batch):
        if event["link"]["rel"] == "messagingInvitation" and event.get("type") == "started":
            href = embedded(event).get("_links", {}).get("accept", {}).get("href")
            if href:
                return str(href)
    return None


def find_send_message(batch: Any) -> str | None:
    for _, event in iter_events(batch):
        if event["link"]["rel"] == "messaging":
            href = embedded(event).get("_links", {}).get("sendMessage", {}).get("href")
            if href:
                return str(href)
    return None


def invitation_completed(batch: Any) -> bool:
    return any(
        e["link"]["rel"] == "messagingInvitation" and e.get("type") == "completed"
        for _, e in iter_events(batch)
    )


async def make_available(client: httpx.AsyncClient, app: App) -> None:
    if app.make_available is None:
        raise BenchError(f"{app.user}: no makeMeAvailable link")
    await post(client, app.make_available, app, 204, json={"signInAs": "Online"})


async def connect_pair(
    sender_client: httpx.AsyncClient,
    sender: App,
    receiver_client: httpx.AsyncClient,
    receiver: App,
) -> Pair:
    """The receiver makes itself available; the sender starts messaging; the receiver accepts
    (the accept href of the ``messagingInvitation started`` event); the sender waits for the
    ``messaging`` update carrying sendMessage. Both channels are drained of the setup."""
    await make_available(receiver_client, receiver)
    body = {"to": sip(receiver.user), "operationId": "x"}
    await post(sender_client, sender.start_messaging, sender, 201, json=body)
    accept = await poll_until(receiver_client, receiver, find_accept, "invitation")
    await post(receiver_client, accept, receiver, 204)
    send_href = await poll_until(sender_client, sender, find_send_message, "sendMessage")
    await poll_until(receiver_client, receiver, invitation_completed, "accepted invitation")
    return Pair(sender, receiver, send_href)


def async_client(base_url: str, connections: int = 10) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=HTTP_TIMEOUT,
        trust_env=False,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


# -- case 1: delivery latency ----------------------------------------------------------------


@dataclass
class LatencyRun:
    """One measured loop: per message, POST-to-delivery and POST-to-201 in ms."""

    client: str
    latencies: list[float] = field(default_factory=list)
    post_times: list[float] = field(default_factory=list)
    extra_polls: int = 0  # batches that came back without the message (none expected)
    server_cpu_ms: float | None = None  # server CPU per message (all threads)
    client_cpu_ms: float | None = None  # this process's CPU per message

    def summary(self) -> dict[str, Any]:
        xs = self.latencies
        return {
            "client": self.client,
            "messages": len(xs),
            "p50_ms": percentile(xs, 50),
            "p90_ms": percentile(xs, 90),
            "p99_ms": percentile(xs, 99),
            "max_ms": max(xs),
            "mean_ms": statistics.fmean(xs),
            "sendmessage_201_p50_ms": percentile(self.post_times, 50),
            "sendmessage_201_p99_ms": percentile(self.post_times, 99),
            "batches_without_the_message": self.extra_polls,
            "server_cpu_ms_per_message": self.server_cpu_ms,
            "client_cpu_ms_per_message": self.client_cpu_ms,
        }


Send = Callable[[bytes], Any]  # async: the message text -> HTTP status
Poll = Callable[[], Any]  # async: one P-GET -> (batch, perf_counter at its last byte)


async def latency_loop(
    run: LatencyRun, send: Send, poll_once: Poll, args: argparse.Namespace, pid: int
) -> None:
    """``--warmup-messages`` + ``--messages`` times: a P-GET is issued (right after the previous
    one returned), ``--gap-ms`` later the message is POSTed; the clock runs from just before the
    POST until the P-GET returns the batch holding that message."""
    total = args.warmup_messages + args.messages
    gap = args.gap_ms / 1000
    deadline = time.monotonic() + args.messages_timeout
    cpu_before, client_before = None, 0.0
    for i in range(total):
        if time.monotonic() > deadline:
            raise BenchError(f"only {i} of {total} messages within {args.messages_timeout}s")
        if i == args.warmup_messages:
            cpu_before, client_before = cpu_seconds(pid), time.process_time()
        pending = asyncio.ensure_future(poll_once())
        await asyncio.sleep(gap)  # ... so that it is parked when the message is sent
        text = f"bench-{i:06d}"
        t0 = time.perf_counter()
        status = await send(text.encode())
        t_post = time.perf_counter()
        if status != 201:
            pending.cancel()
            raise BenchError(f"sendMessage answered {status}")
        for _ in range(10):
            batch, t1 = await asyncio.wait_for(pending, HTTP_TIMEOUT)
            if any(href.endswith(text) for href in incoming_messages(batch)):
                break
            run.extra_polls += 1
            pending = asyncio.ensure_future(poll_once())
        else:
            raise BenchError(f"message {text} not delivered in 10 batches")
        if i >= args.warmup_messages:
            run.latencies.append((t1 - t0) * 1000)
            run.post_times.append((t_post - t0) * 1000)
    cpu_after = cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None:
        run.server_cpu_ms = (cpu_after - cpu_before) * 1000 / args.messages
    run.client_cpu_ms = (time.process_time() - client_before) * 1000 / args.messages


async def latency_case(server: Service, args: argparse.Namespace, users: list[str]) -> CaseReport:
    report = CaseReport("latency")
    pid = server.proc.pid
    runs: list[LatencyRun] = []
    async with (
        async_client(server.base_url, 2) as senders,
        async_client(server.base_url, 2) as receivers,
    ):
        sender = await sign_in_app(senders, users[0])
        receiver = await sign_in_app(receivers, users[1])
        pair = await connect_pair(senders, sender, receivers, receiver)

        # The measurement of the issue: httpx.AsyncClient, keep-alive, one per side.
        headers = {**sender.auth, "Content-Type": "text/plain"}

        async def httpx_send(text: bytes) -> int:
            response = await senders.post(pair.send_href, content=text, headers=headers)
            return response.status_code

        async def httpx_poll() -> tuple[Any, float]:
            batch = await poll(receivers, receiver)
            return batch, time.perf_counter()

        args.profiler.begin("latency", pid)
        try:
            runs.append(LatencyRun("httpx"))
            await latency_loop(runs[-1], httpx_send, httpx_poll, args, pid)
        finally:
            args.profiler.end()

    if args.raw_latency:
        # The same loop on raw sockets: how much of the figure is the Python HTTP client.
        host = f"{HOST}:{server.port}"
        sconn, rconn = await rawhttp.connect_many(HOST, server.port, 2)
        try:

            async def raw_send(text: bytes) -> int:
                request = build_request(
                    "POST", pair.send_href, host, sender.token, text, "text/plain"
                )
                return (await sconn.request(request, HTTP_TIMEOUT)).status

            async def raw_poll() -> tuple[Any, float]:
                request = build_request("GET", receiver.events, host, receiver.token)
                answer = await rconn.request(request, HTTP_TIMEOUT)
                if answer.status != 200:
                    raise BenchError(f"P-GET {receiver.events}: {answer.status}")
                batch = answer.json()
                receiver.events = str(batch["_links"]["next"]["href"])
                return batch, answer.at

            runs.append(LatencyRun("raw sockets"))
            await latency_loop(runs[-1], raw_send, raw_poll, args, pid)
        finally:
            sconn.close()
            rconn.close()

    main = runs[0].summary()
    p50, p99, worst, n = main["p50_ms"], main["p99_ms"], main["max_ms"], main["messages"]
    report.rows = [
        Row("event latency", f"p50 {p50:.2f} ms (n={n}, httpx)"),
        Row(
            "event latency",
            f"p99 {p99:.2f} ms",
            f"<= {LATENCY_TARGET_MS:.0f} ms",
            p99 <= LATENCY_TARGET_MS,
        ),
        Row("event latency", f"max {worst:.2f} ms"),
    ]
    for run in runs[1:]:
        r = run.summary()
        report.rows.append(
            Row(
                f"event latency ({run.client})",
                f"p50 {r['p50_ms']:.2f} / p99 {r['p99_ms']:.2f} / max {r['max_ms']:.2f} ms",
            )
        )
    report.data = {
        "warmup_messages": args.warmup_messages,
        "gap_ms": args.gap_ms,
        **main,
        "runs": [run.summary() for run in runs],
    }
    return report


# -- case 2: idle held polls and the burst ---------------------------------------------------


def raise_fd_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE (soft, and hard when allowed) towards ``wanted``; the soft limit
    reached. Children started afterwards (the server) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            pass
    new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    return new_soft


async def wait_quiet(pid: int, fds_at_least: int, timeout: float) -> bool:
    """Until the process holds ``fds_at_least`` descriptors and used under 20 ms of CPU in
    the last 0.5 s (every request read and parked); False on timeout."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid) or 0.0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_seconds(pid) or 0.0
        fds = open_fds(pid) or 0
        if fds >= fds_at_least and now - last < 0.02:
            return True
        last = now
    return False


async def idle_case(
    server: Service, args: argparse.Namespace, users: list[str], burst_user: str
) -> CaseReport:
    report = CaseReport("idle")
    host = f"{HOST}:{server.port}"
    port = server.port
    pid = server.proc.pid
    polls = args.polls
    plan = [(users[i // args.apps_per_user], f"ep{i % args.apps_per_user}") for i in range(polls)]
    used_users = sorted({u for u, _ in plan})

    async def bulk(requests: list[bytes], what: str, expect: tuple[int, ...]) -> list[RawResponse]:
        t = time.perf_counter()
        answers = await rawhttp.fetch_all(HOST, port, requests, concurrency=32)
        bad = Counter(a.status for a in answers if a.status not in expect)
        if bad or len(answers) != len(requests):
            raise BenchError(f"{what}: {len(answers)} answers, unexpected statuses {dict(bad)}")
        log(f"idle: {len(requests)} x {what} in {time.perf_counter() - t:.1f}s")
        return answers

    # Setup: sign-in, applications, makeMeAvailable, the first batch (the Medium events).
    sign_ins = [
        form_request("/WebTicket/oauthtoken", host, token_request(u))
        for u in [*used_users, burst_user]
    ]
    answers = await bulk(sign_ins, "sign-in", (200,))
    tokens = {u: str(a.json()["access_token"]) for u, a in zip(used_users, answers, strict=False)}
    burst_token = str(answers[-1].json()["access_token"])
    creates = [
        json_request(
            "POST", "/ucwa/oauth/v1/applications", host, tokens[u], application_request(ep)
        )
        for u, ep in plan
    ]
    answers = await bulk(creates, "create application", (201,))
    apps = [parse_app(u, tokens[u], a.json()) for (u, _), a in zip(plan, answers, strict=True)]
    del answers, creates
    available = [
        json_request("POST", a.make_available or "", host, a.token, {"signInAs": "Online"})
        for a in apps
    ]
    await bulk(available, "makeMeAvailable", (204,))
    available_done = time.monotonic()
    burst_app = parse_app(
        burst_user,
        burst_token,
        (
            await bulk(
                [
                    json_request(
                        "POST",
                        "/ucwa/oauth/v1/applications",
                        host,
                        burst_token,
                        application_request("burst"),
                    )
                ],
                "create application (burst sender)",
                (201,),
            )
        )[0].json(),
    )
    # The makeMeAvailable events are Medium: a P-GET answers them once they are 5 s old.
    await asyncio.sleep(max(0.0, available_done + MEDIUM_DELAY + 0.5 - time.monotonic()))
    firsts = [build_request("GET", a.events, host, a.token) for a in apps]
    answers = await bulk(firsts, "first P-GET (makeMeAvailable events)", (200,))
    for app, answer in zip(apps, answers, strict=True):
        app.events = str(answer.json()["_links"]["next"]["href"])
    del answers, firsts

    # Park one P-GET per application on fresh connections.
    await asyncio.sleep(args.settle)
    rss_before, fds_before = rss_kb(pid), open_fds(pid)
    if rss_before is None or fds_before is None:
        raise BenchError("cannot read /proc/PID of the server")
    log(f"idle: server RSS {rss_before} KB, {fds_before} fds; parking {polls} P-GETs")
    args.profiler.begin("idle", pid)
    t_park = time.perf_counter()
    conns = await rawhttp.connect_many(HOST, port, polls, parallel=args.connect_parallel)
    pending: list[asyncio.Future[RawResponse]] = []
    try:
        for conn, app in zip(conns, apps, strict=True):
            target = f"{app.events}&timeout={args.hold:g}"
            pending.append(conn.send(build_request("GET", target, host, app.token)))
        parked = await wait_quiet(pid, fds_before + polls, timeout=args.hold / 2)
        park_s = time.perf_counter() - t_park
        rss_after, fds_after = rss_kb(pid) or 0, open_fds(pid) or 0
        early = sum(1 for f in pending if f.done())
        if not parked:
            report.invalid(f"the server did not settle with {polls} connections ({fds_after} fds)")
        if early:
            report.invalid(f"{early} P-GETs answered before the burst")
        per_poll = (rss_after - rss_before) / polls
        log(
            f"idle: {polls} parked in {park_s:.1f}s; RSS {rss_after} KB "
            f"(+{rss_after - rss_before} KB, {per_poll:.1f} KB each), {fds_after} fds"
        )
        burst_s, burst_data = await _burst(host, port, apps, burst_app, pending, args, report)
    finally:
        args.profiler.end()
        for conn in conns:
            conn.close()
        for f in pending:
            if not f.done():
                f.cancel()
    report.rows = [
        Row("idle held polls", f"{polls:,} P-GETs held", f">= {args.polls:,}", parked),
        Row(
            "idle held polls",
            f"{per_poll:.1f} KB RSS per held poll",
            f"<= {MEMORY_TARGET_KB:.0f} KB",
            per_poll <= MEMORY_TARGET_KB,
        ),
        Row("idle held polls", f"burst: all {polls:,} answered in {burst_s:.2f} s"),
    ]
    report.data = {
        "polls": polls,
        "users": len(used_users),
        "apps_per_user": args.apps_per_user,
        "hold_s": args.hold,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "kb_per_held_poll": per_poll,
        "fds_before": fds_before,
        "fds_after": fds_after,
        "park_s": park_s,
        **burst_data,
    }
    return report


async def _burst(
    host: str,
    port: int,
    apps: list[App],
    burst_app: App,
    pending: list[asyncio.Future[RawResponse]],
    args: argparse.Namespace,
    report: CaseReport,
) -> tuple[float, dict[str, Any]]:
    """One startMessaging per user: each of its applications gets one High batch."""
    invitations = [
        json_request(
            "POST",
            burst_app.start_messaging,
            host,
            burst_app.token,
            {"to": sip(u), "operationId": "x"},
        )
        for u in sorted({a.user for a in apps})
    ]
    senders = await rawhttp.connect_many(HOST, port, min(args.burst_connections, len(invitations)))
    t0 = time.perf_counter()
    try:
        answers = await rawhttp.fetch_all(HOST, port, invitations, conns=senders)
    finally:
        for conn in senders:
            conn.close()
    t_posted = time.perf_counter()
    bad_posts = Counter(a.status for a in answers if a.status != 201)
    if bad_posts:
        report.invalid(f"startMessaging answered {dict(bad_posts)}")
    done, not_done = await asyncio.wait(pending, timeout=args.burst_timeout)
    results = [f.result() for f in done if not f.cancelled() and f.exception() is None]
    errors = len(done) - len(results)
    if not_done or errors:
        report.invalid(f"{len(not_done)} P-GETs unanswered, {errors} failed after the burst")
    statuses = Counter(r.status for r in results)
    one_invitation = 0
    for r in results:
        if r.status != 200:
            continue
        started = [
            e
            for _, e in iter_events(r.json())
            if e["link"]["rel"] == "messagingInvitation" and e.get("type") == "started"
        ]
        one_invitation += len(started) == 1
    if one_invitation != len(pending):
        report.invalid(f"{one_invitation} of {len(pending)} answers hold one invitation")
    times = [(r.at - t0) * 1000 for r in results] or [float("nan")]
    burst_s = (max(r.at for r in results) - t0) if results else float("nan")
    log(f"idle: burst of {len(invitations)} invitations, all answered in {burst_s:.2f}s")
    return burst_s, {
        "burst_invitations": len(invitations),
        "burst_posts_s": t_posted - t0,
        "burst_all_answered_s": burst_s,
        "burst_answer_p50_ms": percentile(times, 50),
        "burst_answer_p99_ms": percentile(times, 99),
        "burst_statuses": dict(statuses),
        "answers_with_one_invitation": one_invitation,
    }


async def hold_baseline(bare: Service, polls: int, args: argparse.Namespace) -> dict[str, Any]:
    """The same ``polls`` held requests against bench/bare_app.py with BENCH_HOLD=1 (uvicorn,
    httptools, uvloop and nothing else): RSS per held request of the stack under openucwa."""
    pid = bare.proc.pid
    warm = [build_request("GET", "/", bare.base_url)] * 200
    await rawhttp.fetch_all(HOST, bare.port, warm, concurrency=32)
    await asyncio.sleep(args.settle)
    rss_before, fds_before = rss_kb(pid) or 0, open_fds(pid) or 0
    conns = await rawhttp.connect_many(HOST, bare.port, polls, parallel=args.connect_parallel)
    try:
        target = f"/ucwa/oauth/v1/applications/123456789012/events?ack=2&timeout={args.hold:g}"
        request = build_request("GET", target, f"{HOST}:{bare.port}", "x" * 40)
        for conn in conns:
            conn.send(request)
        settled = await wait_quiet(pid, fds_before + polls, timeout=args.hold / 2)
        rss_after = rss_kb(pid) or 0
    finally:
        for conn in conns:
            conn.close()
    per_poll = (rss_after - rss_before) / polls
    log(f"idle: bare uvicorn holds {polls}: +{rss_after - rss_before} KB, {per_poll:.1f} KB each")
    return {
        "baseline_settled": settled,
        "baseline_rss_before_kb": rss_before,
        "baseline_rss_after_kb": rss_after,
        "baseline_kb_per_held_request": per_poll,
    }


def run_baseline(
    report: CaseReport,
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    cpu: int | None,
) -> None:
    port = free_port()
    argv = [sys.executable, str(HERE / "bare_app.py"), "--port", str(port)]
    bare = start_service("bare-hold", pinned(argv, cpu), {**env, "BENCH_HOLD": "1"}, port, workdir)
    try:
        wait_ready(bare)
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            data = runner.run(hold_baseline(bare, args.polls, args))
    except (BenchError, rawhttp.HttpError, TimeoutError) as exc:
        log(f"idle baseline failed: {exc}")
        return
    finally:
        stop_service(bare)
    report.data.update(data)
    kb = data["baseline_kb_per_held_request"]
    report.rows.insert(
        2,
        Row("idle held polls", f"baseline: {kb:.1f} KB per held request, bare uvicorn app"),
    )


# -- case 3: IM throughput -------------------------------------------------------------------


async def throughput_case(
    server: Service, args: argparse.Namespace, users: list[str]
) -> CaseReport:
    report = CaseReport("throughput")
    host = f"{HOST}:{server.port}"
    async with async_client(server.base_url, 2 * args.pairs) as client:
        apps = await asyncio.gather(*(sign_in_app(client, u) for u in users[: 2 * args.pairs]))
        pairs = await asyncio.gather(
            *(connect_pair(client, apps[2 * i], client, apps[2 * i + 1]) for i in range(args.pairs))
        )
    conns = await rawhttp.connect_many(HOST, server.port, 2 * args.pairs)
    accepted = [0] * args.pairs
    delivered = [0] * args.pairs
    in_window = [0] * args.pairs
    batches = [0] * args.pairs
    late = [0] * args.pairs  # accepted after the window closed: delivered, not counted
    refused: Counter[int] = Counter()
    body = b"Hello from the throughput benchmark."
    senders_done = asyncio.Event()
    start = time.perf_counter()
    end = start + args.duration

    async def send(i: int, conn: RawConnection) -> None:
        p = pairs[i]
        request = build_request(
            "POST", p.send_href, host, p.sender.token, body, "text/plain; charset=utf-8"
        )
        while time.perf_counter() < end:
            answer = await conn.request(request, HTTP_TIMEOUT)
            if answer.status == 201:
                if answer.at <= end:
                    accepted[i] += 1
                else:  # answered after the window: delivered too, counted apart
                    late[i] += 1
            else:
                refused[answer.status] += 1

    async def receive(i: int, conn: RawConnection) -> None:
        r = pairs[i].receiver
        while not (senders_done.is_set() and delivered[i] >= accepted[i] + late[i]):
            answer = await conn.request(build_request("GET", r.events, host, r.token), HTTP_TIMEOUT)
            if answer.status != 200:
                raise BenchError(f"P-GET {r.events}: {answer.status} {answer.body[:200]!r}")
            batch = answer.json()
            r.events = str(batch["_links"]["next"]["href"])
            n = len(incoming_messages(batch))
            delivered[i] += n
            batches[i] += 1
            if answer.at <= end:
                in_window[i] += n

    args.profiler.begin("throughput", server.proc.pid)
    cpu_before = cpu_seconds(server.proc.pid)
    client_before = time.process_time()
    receivers = [
        asyncio.ensure_future(receive(i, conns[args.pairs + i])) for i in range(args.pairs)
    ]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(send(i, conns[i]) for i in range(args.pairs))),
            args.duration + HTTP_TIMEOUT,
        )
        cpu_after = cpu_seconds(server.proc.pid)
        client_after = time.process_time()
        senders_done.set()
        done, not_done = await asyncio.wait(receivers, timeout=args.drain)
        for task in done:
            if task.exception() is not None:
                report.invalid(f"receiver failed: {task.exception()!r}")
    finally:
        args.profiler.end()
        for task in receivers:
            task.cancel()
        for conn in conns:
            conn.close()
    sent = sum(accepted) + sum(late)
    got = sum(delivered)
    if refused:
        report.invalid(f"sendMessage refused: {dict(refused)}")
    lost = sent - got
    accepted_rate = sum(accepted) / args.duration
    delivered_rate = sum(in_window) / args.duration
    server_cpu = (
        (cpu_after - cpu_before) / args.duration
        if cpu_before is not None and cpu_after is not None
        else None
    )
    report.rows = [
        Row("IM throughput", f"{accepted_rate:,.0f} messages/s accepted (201), {args.pairs} pairs"),
        Row(
            "IM throughput",
            f"{delivered_rate:,.0f} messages/s delivered; {got:,} of {sent:,} arrived",
            "all accepted arrive",
            lost == 0,
        ),
    ]
    report.data = {
        "pairs": args.pairs,
        "duration_s": args.duration,
        "accepted": sum(accepted),
        "accepted_after_window": sum(late),
        "delivered_in_window": sum(in_window),
        "delivered_total": got,
        "lost": lost,
        "receiver_batches": sum(batches),
        "messages_per_batch": got / sum(batches) if sum(batches) else None,
        "accepted_per_s": accepted_rate,
        "delivered_per_s": delivered_rate,
        "server_cpu_share": server_cpu,
        "client_cpu_share": (client_after - client_before) / args.duration,
        "refused": dict(refused),
    }
    return report


# -- the run ---------------------------------------------------------------------------------


def users_for(args: argparse.Namespace) -> dict[str, list[str]]:
    idle_users = math.ceil(args.polls / args.apps_per_user)
    return {
        "latency": [f"lat-sender@{DOMAIN}", f"lat-receiver@{DOMAIN}"],
        "idle": [f"idle{i:04d}@{DOMAIN}" for i in range(idle_users)],
        "burst": [f"burst@{DOMAIN}"],
        "throughput": [f"tp{i:03d}{r}@{DOMAIN}" for i in range(args.pairs) for r in "sr"],
    }


async def run_case(
    name: str, server: Service, args: argparse.Namespace, users: dict[str, list[str]]
) -> CaseReport:
    if name == "latency":
        return await latency_case(server, args, users["latency"])
    if name == "idle":
        return await idle_case(server, args, users["idle"], users["burst"][0])
    return await throughput_case(server, args, users["throughput"])


def run(args: argparse.Namespace) -> int:
    server_cpu, client_cpu = pin_cpus(args.pin)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})  # this process is the load; the server has CPU 0
    cases = [c for c in CASES if c in args.cases]
    if "idle" in cases:
        # Both the server and this process hold one socket per P-GET (plus a few hundred).
        limit = raise_fd_limit(args.polls + 1024)
        if limit < args.polls + 256:
            largest = max(1, limit - 256)
            log(f"file descriptor limit {limit}: holding {largest} P-GETs, not {args.polls}")
            args.polls = largest
    users = users_for(args)
    needed = sorted(
        {u for key, group in users.items() for u in group if key in cases or key == "burst"}
    )
    cli = openucwa_command()
    reports: list[CaseReport] = []
    args.profiler = Profiler(args.profile, args.profile_rate)
    with tempfile.TemporaryDirectory(prefix="openucwa-bench-events-", dir=args.db_dir) as tmp:
        workdir = Path(tmp)
        database = f"sqlite:///{workdir / 'bench.db'}"
        env = server_env(
            {
                "OPENUCWA_DOMAINS": DOMAIN,
                "OPENUCWA_LOG_LEVEL": "warning",
                "OPENUCWA_MAX_APPLICATIONS_PER_USER": str(max(50, args.apps_per_user)),
                # no housekeeping pass (it lists every application) during a measurement
                "OPENUCWA_HOUSEKEEPING_INTERVAL": "3600",
                # the burst: one application invites every user at once
                "OPENUCWA_MAX_PENDING_INVITATIONS_PER_USER": "100000",
                "OPENUCWA_INVITATIONS_PER_MINUTE": "100000",
            }
        )
        log(f"database {database}, {len(needed)} users")
        prepare_database(cli, database, needed, env)
        for name in cases:
            hold = args.hold if name == "idle" else 60
            server = start_server(
                cli, database, env, workdir, server_cpu, ["--max-event-wait", f"{hold:g}"]
            )
            log(f"{name}: server pid {server.proc.pid} on port {server.port}")
            try:
                with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                    reports.append(runner.run(run_case(name, server, args, users)))
            except (BenchError, rawhttp.HttpError, httpx.HTTPError, TimeoutError) as exc:
                failed = CaseReport(name)
                failed.invalid(f"{type(exc).__name__}: {exc}")
                failed.rows = [Row(name, f"failed: {exc}")]
                reports.append(failed)
                log(f"{name} failed: {exc}\n{server.log_tail()}")
            finally:
                args.profiler.end()
                stop_service(server)
        idle = next((r for r in reports if r.name == "idle" and r.valid), None)
        if idle is not None and args.baseline:
            run_baseline(idle, args, env, workdir, server_cpu)

    print()
    print(
        "openucwa event benchmarks: one uvicorn worker (uvloop, httptools), SQLite "
        "synchronous=FULL"
        + (
            f", server on CPU {server_cpu}, client on CPU {client_cpu}"
            if server_cpu is not None
            else ""
        )
    )
    print()
    print(table(reports))
    print()
    for report in reports:
        for problem in report.problems:
            print(f"INVALID {report.name}: {problem}")
    for path in args.profiler.files:
        if path.exists():
            print(summarize_profile(path))
            print()
    valid = all(r.valid for r in reports)
    passed = valid and all(row.passed is not False for r in reports for row in r.rows)
    if args.json:
        out = {
            "config": {k: v for k, v in vars(args).items() if k not in ("json", "profiler")},
            "environment": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "pinned": server_cpu is not None,
            },
            "cases": [
                {
                    "case": r.name,
                    "valid": r.valid,
                    "problems": r.problems,
                    "rows": [{**asdict(row), "verdict": row.verdict()} for row in r.rows],
                    "data": r.data,
                }
                for r in reports
            ],
            "valid": valid,
            "passed": passed,
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        log(f"wrote {args.json}")
    if not valid:
        return 2
    return 0 if passed else 1


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the client too when installed (it is, with uvicorn[standard]): less client
    CPU per request."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/events.py",
        description="Benchmark the openucwa event channel: delivery latency, idle held polls "
        "(memory, burst), IM throughput.",
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated subset of {','.join(CASES)} (all)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server to CPU 0 and this client to CPU 1",
    )
    parser.add_argument(
        "--db-dir",
        metavar="DIR",
        help="make the temp dir (database, logs) in DIR, e.g. /dev/shm to take the disk's "
        "fsync out of the figures (default: the system temp dir)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the server with py-spy during each measured part; collapsed stacks in "
        "DIR/<case>.txt and a summary after the table",
    )
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples/s (250)")
    group = parser.add_argument_group("latency")
    group.add_argument("--messages", type=int, default=1000, help="measured messages (1000)")
    group.add_argument("--warmup-messages", type=int, default=100, help="unmeasured first (100)")
    group.add_argument(
        "--gap-ms", type=float, default=2.0, help="pause between P-GET and message (2)"
    )
    group.add_argument(
        "--messages-timeout", type=float, default=300.0, help="bound on each loop, s (300)"
    )
    group.add_argument(
        "--no-raw-latency",
        dest="raw_latency",
        action="store_false",
        help="skip repeating the loop with the raw-socket client (bench/rawhttp.py)",
    )
    group = parser.add_argument_group("idle")
    group.add_argument("--polls", type=int, default=10_000, help="held P-GETs (10000)")
    group.add_argument("--apps-per-user", type=int, default=100, help="applications per user")
    group.add_argument(
        "--hold", type=float, default=120.0, help="server --max-event-wait and P-GET timeout"
    )
    group.add_argument("--settle", type=float, default=2.0, help="pause before RSS before, s")
    group.add_argument("--connect-parallel", type=int, default=256, help="handshakes at a time")
    group.add_argument("--burst-connections", type=int, default=8, help="for the invitations")
    group.add_argument("--burst-timeout", type=float, default=60.0, help="bound on the burst, s")
    group.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip holding as many requests in bench/bare_app.py (the uvicorn-only baseline)",
    )
    group = parser.add_argument_group("throughput")
    group.add_argument("--pairs", type=int, default=20, help="sender/receiver pairs (20)")
    group.add_argument("--duration", type=float, default=10.0, help="seconds of sending (10)")
    group.add_argument("--drain", type=float, default=15.0, help="bound on delivery after, s")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown or not args.cases:
        parser.error(f"--cases: one or more of {', '.join(CASES)}")
    if args.messages < 1 or args.polls < 1 or args.apps_per_user < 1 or args.pairs < 1:
        parser.error("--messages, --polls, --apps-per-user and --pairs must be >= 1")
    if args.duration <= 0 or args.hold < 10:
        parser.error("--duration > 0 and --hold >= 10")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
