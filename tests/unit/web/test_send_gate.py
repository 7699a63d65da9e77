"""web/send_gate.py: responses ready in one loop turn are released together, in the next."""

from __future__ import annotations

import asyncio

from openucwa.web.send_gate import SendGate


async def test_waiters_of_one_turn_are_released_together_in_the_next() -> None:
    gate = SendGate()
    order: list[str] = []

    async def respond(name: str) -> None:
        await gate.wait()
        order.append(name)

    first = [asyncio.create_task(respond(f"a{i}")) for i in range(3)]
    await asyncio.sleep(0)  # the three tasks run up to the gate in this turn
    assert order == []
    late = asyncio.create_task(respond("late"))  # reaches the gate in a later turn
    await asyncio.gather(*first)
    assert order[:3] == ["a0", "a1", "a2"]
    await late
    assert order == ["a0", "a1", "a2", "late"]


async def test_a_cancelled_waiter_does_not_cancel_the_others() -> None:
    gate = SendGate()
    waiting = [asyncio.ensure_future(gate.wait()) for _ in range(3)]
    waiting[1].cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert waiting[0].done() and not waiting[0].cancelled()
    assert waiting[1].cancelled()
    assert waiting[2].done() and not waiting[2].cancelled()


async def test_nothing_waits_for_a_turn_that_never_comes() -> None:
    gate = SendGate()
    await asyncio.wait_for(gate.wait(), timeout=1)
    await asyncio.wait_for(gate.wait(), timeout=1)  # a new turn, a new opening


def test_one_gate_serves_one_loop_after_another() -> None:
    gate = SendGate()

    async def stranded() -> None:
        gate.wait()
        asyncio.get_running_loop().stop()  # the loop ends with this turn: the gate never opens

    loop = asyncio.new_event_loop()
    loop.create_task(stranded())
    loop.run_forever()
    loop.close()

    async def served() -> None:
        await asyncio.wait_for(gate.wait(), timeout=1)

    asyncio.run(served())
