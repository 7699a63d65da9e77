import asyncio

from tests.conftest import Helpers


async def test_empty_batch_then_make_me_available_events(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    events = bill.link("events")
    assert events.endswith("events?ack=1")
    first = await helpers.client.get(events, headers=bill.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["sender"] == []
    assert body["_links"]["next"]["href"].endswith("ack=2")
    poll = asyncio.create_task(
        helpers.client.get(body["_links"]["next"]["href"], headers=bill.headers)
    )
    await asyncio.sleep(0.05)
    mma = await helpers.client.post(
        bill.link("me", "makeMeAvailable"),
        json={"SupportedModalities": ["Messaging"]},
        headers=bill.headers,
    )
    assert mma.status_code == 204
    second = (await poll).json()
    rels = [(s["rel"], [e["link"]["rel"] for e in s["events"]]) for s in second["sender"]]
    assert rels == [
        ("communication", ["communication"]),
        ("me", ["me", "presence", "note", "location"]),
    ]
    comm = second["sender"][0]["events"][0]["_embedded"]["communication"]
    assert comm["supportedModalities"] == ["Messaging"]
    again = await helpers.client.get(body["_links"]["next"]["href"], headers=bill.headers)
    assert again.json() == second
