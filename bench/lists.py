"""Large meeting lists: what fetching them costs the server and everyone else.

One user holds ``--meetings`` meetings of ``--attendees`` attendees and as many leaders each
(every limit kept at the defaults: 999 and 1000 make a list of ~61 MB of JSON, ~81 MB of XML).
A fresh server on that database then answers ``--lists`` GETs of the list at once while a
separate client pings ``GET /`` every 100 ms. Printed per format: the longest ping, the
server's peak memory (``VmHWM``), how long the lists took, their size and whether they carried
a Content-Length (whole) or came chunked (streamed). ``--attendees 1`` shows an ordinary list.

    scripts/bench --lists [--meetings 999] [--attendees 1000] [--lists 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import (
    BenchError,
    create_application_async,
    get_token_async,
    guarded_main,
    log,
    openucwa_command,
    prepare_database,
    server_env,
    start_server,
    stop_service,
)

USER = "sip:lists@contoso.com"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError("no VmHWM in /proc")


async def meetings_url(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    token = await get_token_async(client, USER[4:])
    app = await create_application_async(client, token)
    links = app["_embedded"]["onlineMeetings"]["_links"]
    return links["myOnlineMeetings"]["href"], {"Authorization": f"Bearer {token}"}


async def fill(base: str, meetings: int, attendees: int) -> None:
    people = [f"sip:person{i}@contoso.com" for i in range(attendees)]
    body = {"subject": "large", "attendees": people, "leaders": people}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        url, auth = await meetings_url(client)
        done = 0

        async def post() -> None:
            nonlocal done
            while done < meetings:
                done += 1
                response = await client.post(url, json=body, headers=auth)
                if response.status_code != 201:
                    raise BenchError(f"POST: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(post() for _ in range(8)))


async def fetch(base: str, lists: int, accept: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        url, auth = await meetings_url(client)
        headers = {**auth, "Accept": accept, "Accept-Encoding": "identity"}
        pings: list[float] = []
        finished = asyncio.Event()

        async def ping() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=60) as pinger:
                while not finished.is_set():
                    start = time.perf_counter()
                    await pinger.get("/")
                    pings.append(time.perf_counter() - start)
                    await asyncio.sleep(0.1)

        async def one() -> tuple[int, bool]:
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise BenchError(f"GET list: {response.status_code}")
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                return size, "content-length" in response.headers

        pinger = asyncio.create_task(ping())
        await asyncio.sleep(0.3)
        start = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(lists)))
        took = time.perf_counter() - start
        finished.set()
        await pinger
        return {
            "took": took,
            "longest_ping": max(pings),
            "bytes": results[0][0],
            "whole": all(whole for _, whole in results),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=999)
    parser.add_argument("--attendees", type=int, default=1000)
    parser.add_argument("--lists", type=int, default=4)
    args = parser.parse_args()
    cli = openucwa_command()
    env = server_env({"OPENUCWA_ACCESS_LOG": "0"})
    with tempfile.TemporaryDirectory(prefix="openucwa-lists-") as tmp:
        workdir = Path(tmp)
        database = f"sqlite:///{workdir / 'lists.db'}"
        prepare_database(cli, database, [USER], env)
        log(f"creating {args.meetings} meetings of {args.attendees} attendees and leaders")
        server = start_server(cli, database, env, workdir)
        try:
            asyncio.run(fill(server.base_url, args.meetings, args.attendees))
        finally:
            stop_service(server)
        print(
            f"| {args.lists} lists at once | list size | longest ping | peak RSS |"
            " all done | Content-Length |"
        )
        print("|---|---:|---:|---:|---:|---|")
        for name, accept in (("XML", "application/xml"), ("JSON", "application/json")):
            server = start_server(cli, database, env, workdir)  # fresh: its own peak
            try:
                result = asyncio.run(fetch(server.base_url, args.lists, accept))
                peak = peak_rss_mb(server.proc.pid)
            finally:
                stop_service(server)
            print(
                f"| {name} | {result['bytes'] / 1e6:.1f} MB | {result['longest_ping']:.2f} s"
                f" | {peak:,.0f} MB | {result['took']:.1f} s"
                f" | {'yes (whole)' if result['whole'] else 'no (streamed)'} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(guarded_main(main))
