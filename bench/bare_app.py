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
"""

from __future__ import annotations

import argparse
import os
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


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        if HOLD and scope["path"].endswith("/events"):
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if scope["method"] in ("POST", "PUT"):  # read the body, as any real endpoint does
            while (await receive()).get("more_body", False):
                pass
        await send(START)
        await send(RESPONSE)
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
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
