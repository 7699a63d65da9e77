"""The baseline of the benchmark: a bare ASGI callable answering every request with one fixed
JSON body of ``BENCH_BODY_BYTES`` bytes (the driver sets it to the size of the real GET-meeting
response).

``python bench/bare_app.py --port N`` serves it with the same ``uvicorn.run`` options as
``openucwa serve`` (src/openucwa/cli.py): uvloop, httptools, one worker process, access log off,
lifespan on. No framework, no routing, no database: what is left is uvicorn + HTTP parsing +
the event loop, the ceiling any endpoint served this way can reach. A POST or PUT body is read
(and thrown away) before the answer, as any endpoint must.

With ``BENCH_HOLD=1`` a request whose path ends in ``/events`` is not answered: it waits for the
client to go away, like a held long poll with nothing to say. bench/events.py uses that as the
memory baseline of a held P-GET (what uvicorn, httptools and uvloop cost per held request).

Two calibration variants (``bench/run.py --calibrate``) price the parts of a meeting POST:

- ``BENCH_DURABLE_DB=PATH``: each POST body is stored as one row of a SQLite database through
  openucwa's own write path (``storage/sql/engine.py``: WAL, ``synchronous=FULL``, group
  commit on a commit thread), and answered once its commit returned. What durability costs.
- ``BENCH_BURN_US=N``: each POST spends N microseconds of CPU (a busy loop on the thread's CPU
  clock) before the answer. What a given amount of application work costs under this load.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SIZE_ENV = "BENCH_BODY_BYTES"
DEFAULT_SIZE = 1024
_PREFIX = b'{"pad":"'
_SUFFIX = b'"}'


def json_body(size: int) -> bytes:
    """A valid JSON object of exactly ``size`` bytes."""
    room = size - len(_PREFIX) - len(_SUFFIX)
    if room < 0:
        raise ValueError(f"a JSON body needs at least {len(_PREFIX) + len(_SUFFIX)} bytes")
    return _PREFIX + b"x" * room + _SUFFIX


BODY = json_body(int(os.environ.get(SIZE_ENV, DEFAULT_SIZE)))
START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
RESPONSE: Message = {"type": "http.response.body", "body": BODY}
HOLD = os.environ.get("BENCH_HOLD", "") == "1"
BURN_S = float(os.environ.get("BENCH_BURN_US", "0") or 0) / 1e6
DURABLE_DB = os.environ.get("BENCH_DURABLE_DB", "")
_INSERT = "INSERT INTO bench_rows (body) VALUES (?)"
_database: Any = None  # openucwa's SqliteDatabase, with BENCH_DURABLE_DB


async def _open_database() -> None:
    global _database
    from openucwa.storage.sql.engine import SqliteDatabase, migrate  # only this variant needs it

    url = f"sqlite:///{DURABLE_DB}"
    migrate(url)  # the engine only starts on a migrated database
    conn = sqlite3.connect(DURABLE_DB)
    conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY, body BLOB)")
    conn.commit()
    conn.close()
    _database = SqliteDatabase(url)
    await _database.start()


def _burn(seconds: float) -> None:
    clock = time.thread_time
    end = clock() + seconds
    while clock() < end:
        pass


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        if HOLD and scope["path"].endswith("/events"):
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if scope["method"] in ("POST", "PUT"):  # read the body, as any real endpoint does
            if _database is None:  # the baseline: read and drop, exactly as before
                while (await receive()).get("more_body", False):
                    pass
            else:
                chunks = []
                while True:
                    message = await receive()
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
                body = b"".join(chunks)
                await _database.write(lambda conn: conn.execute(_INSERT, (body,)), isolated=False)
            if BURN_S:
                _burn(BURN_S)
        await send(START)
        await send(RESPONSE)
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if DURABLE_DB:
                    await _open_database()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _database is not None:
                    await _database.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    import uvicorn

    # Keep in step with `openucwa serve` (src/openucwa/cli.py).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
