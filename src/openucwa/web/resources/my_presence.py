"""me's presence, note and location (GET): what makeMeAvailable's events announce and me
links once the application is available (me_ref, ReceiveAnIM). This server keeps no presence
of its own: presence says the availability the application signed in as, note and location
are empty, and none of them can be set (deviation 7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openucwa.domain.applications import Application
from openucwa.domain.errors import NotFound
from openucwa.representation.resource import Resource
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.respond import render

# The me links, in me_ref's order, and the route of each (shown only while available).
MY_LINKS = (("location", "my_location"), ("note", "my_note"), ("presence", "my_presence"))


async def _available(request: Request) -> Application:
    _, app = await application_of(request)
    if not app.available:  # not announced before makeMeAvailable
        raise NotFound(message="Not available until makeMeAvailable.")
    return app


async def get_presence(request: Request) -> Response:
    app = await _available(request)
    href = Links(request).app_child("my_presence", app.app_id)
    availability = app.sign_in_as or "Online"
    return render(
        request, Resource("presence", href=href, properties={"availability": availability})
    )


async def get_note(request: Request) -> Response:
    app = await _available(request)
    href = Links(request).app_child("my_note", app.app_id)
    return render(request, Resource("note", href=href, properties={"message": ""}))


async def get_location(request: Request) -> Response:
    app = await _available(request)
    href = Links(request).app_child("my_location", app.app_id)
    return render(request, Resource("location", href=href, properties={"location": ""}))
