"""Responses that are ready in one turn of the event loop go out together, in the next turn.

Why: on loopback (and in a VM above all) the first segment a sleeping client receives costs the
sender a wake-up of that client (``sock_def_readable`` -> an inter-processor interrupt); the
ones that follow while it is awake cost little. Requests finish one by one as the loop runs
their tasks, so their responses would leave spread over the whole turn and each would wake the
client again. Held at this gate until the turn ends, they are written back to back. Measured
in A/B runs (two servers under wrk in turn, 8 alternating rounds): meeting GET +3 % requests
per second and p99 3.0 -> 2.0 ms; meeting POST +5 % (its responses already come in groups,
when their group commit returns, but each is rendered before it leaves). The price is one more
turn of the loop per response (~1 us of task switching in-process).

Each waiter gets its own future: cancelling one waiting task (a server shutting down) never
cancels the others' wait.
"""

from __future__ import annotations

import asyncio


class SendGate:
    """``await gate.wait()`` returns in the loop turn after the one the first waiter came in."""

    __slots__ = ("_waiting", "_loop")

    def __init__(self) -> None:
        self._waiting: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def wait(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._waiting or loop is not self._loop:
            # The first waiter of this turn (or of another loop: a test's new loop) schedules
            # the opening. A list left by a loop that stopped mid-turn is dropped with it.
            self._loop = loop
            self._waiting = []
            loop.call_soon(self._open, self._waiting)
        self._waiting.append(future)
        return future

    def _open(self, waiting: list[asyncio.Future[None]]) -> None:
        if waiting is self._waiting:
            self._waiting = []
        for future in waiting:
            if not future.done():
                future.set_result(None)
