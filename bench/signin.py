"""Benchmark a sign-in flood that names a different account each time, one table.

    .venv/bin/python bench/signin.py [--flood 500] [--json FILE]
    scripts/bench --signin [ARGS]

Against a fresh ``openucwa serve`` (one uvicorn worker, demo settings otherwise) on 127.0.0.1,
with ``OPENUCWA_TRUSTED_PROXIES=127.0.0.1`` so that ``X-Forwarded-For`` can stand for many
clients. Two cases:

one-address    ``--flood`` concurrent password sign-ins for user names that do not exist, all
               from one client address; one second in, a real user signs in from another.
many-addresses the same, each guess from an address of its own (a distributed flood).

Reported: how the flood was answered (by status and error), the flood's duration, and how long
the real user's sign-in took. There is no target in an issue; the figure to watch is the real
user's wait, which before the per-address throttle and the bounded queue of password checks
grew with the flood (11 s behind 500 guesses). Exit status: 0, or 2 when the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from common import (
    DOMAIN,
    HOST,
    PASSWORD,
    BenchError,
    guarded_main,
    log,
    openucwa_command,
    prepare_database,
    server_env,
    start_server,
    stop_service,
)

TOKEN = "/WebTicket/oauthtoken"
REAL_USER = f"real@{DOMAIN}"


@dataclass
class Row:
    case: str
    flood: int
    answers: str
    flood_s: float
    real_status: int
    real_s: float


async def _flood(base_url: str, n: int, many_addresses: bool) -> Row:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as attacker:

        async def guess(i: int) -> str:
            address = (
                f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}" if many_addresses else "10.0.0.1"
            )
            response = await attacker.post(
                TOKEN,
                headers={"X-Forwarded-For": address},
                data={"grant_type": "password", "username": f"nobody{i}@{DOMAIN}", "password": "x"},
            )
            body = response.json() if response.content else {}
            said = body.get("error_description", body.get("error", ""))
            return f"{response.status_code} {said}".strip()

        started = time.perf_counter()
        flood = asyncio.gather(*(guess(i) for i in range(n)))
        await asyncio.sleep(1.0)
        # The real user is another process (curl, timed by itself): a client sharing this
        # process's event loop with the flood would measure its own congestion.
        real = await asyncio.create_subprocess_exec(
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
            "-H", "X-Forwarded-For: 192.0.2.200",
            "--data-urlencode", "grant_type=password",
            "--data-urlencode", f"username={REAL_USER}",
            "--data-urlencode", f"password={PASSWORD}",
            f"{base_url}{TOKEN}",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await real.communicate()
        status, real_s = out.decode().split()
        answers = Counter(await flood)
        flood_s = time.perf_counter() - started
    case = "many-addresses" if many_addresses else "one-address"
    said = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
    return Row(case, n, said, round(flood_s, 2), int(status), round(float(real_s), 3))


def _table(rows: list[Row]) -> str:
    lines = [
        "| case | flood | flood answered | flood s | real user's sign-in | real user's wait s |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.case} | {r.flood} | {r.answers} | {r.flood_s:.2f} | {r.real_status} "
            f"| {r.real_s:.3f} |"
        )
    return "\n".join(lines)


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=500, help="concurrent guesses per case")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    cli = openucwa_command()
    if shutil.which("curl") is None:
        raise BenchError("curl is needed for the real user's sign-in (apt-get install curl)")
    env = server_env({"OPENUCWA_TRUSTED_PROXIES": HOST, "OPENUCWA_DOMAINS": DOMAIN})
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="openucwa-signin-") as tmp:
        workdir = Path(tmp)
        database = f"sqlite:///{workdir / 'bench.db'}"
        prepare_database(cli, database, [f"sip:{REAL_USER}"], env)
        for many in (False, True):
            server = start_server(cli, database, env, workdir, name="openucwa-signin")
            try:
                log(f"flood of {args.flood}, {'many addresses' if many else 'one address'}")
                row = asyncio.run(_flood(server.base_url, args.flood, many))
            finally:
                stop_service(server)
            if row.real_status != 200:
                raise BenchError(f"the real user's sign-in answered {row.real_status}")
            rows.append(row)
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(guarded_main(run))
