"""startMessaging (POST messagingInvitations) and one messagingInvitation with its accept,
decline and cancel operations (spec §2.11.2, CLIENT-COMPAT "Messaging")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openucwa.domain.conversations import StartInput, declines_locally
from openucwa.domain.errors import Conflict
from openucwa.representation import data_uri
from openucwa.services.messaging import inv_snapshot
from openucwa.web.body import read_body, read_input
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.resources import conversation_views as views
from openucwa.web.respond import empty, render


async def start_messaging(request: Request) -> Response:
    caller, app = await application_of(request)
    doc = await read_input(request)
    if doc.has("conversation"):
        raise Conflict(message="addMessaging is available in meetings only.")
    message = None
    href = doc.links.get("message")
    if href is None and isinstance(doc.raw("message"), str):
        href = doc.raw("message")
    if href is not None:
        message = data_uri.decode(href)
    data = StartInput(
        to=doc.text("to"),
        operation_id=doc.text("operationId"),
        subject=doc.text("subject"),
        importance=doc.text("importance"),
        message=message,
    )
    doc.check()
    inv = await services(request).messaging.start(caller, app, data)
    return empty(201, {"Location": Links(request).invitation(app.app_id, inv.inv_id)})


async def get_invitation(request: Request) -> Response:
    _, app = await application_of(request)
    inv = await services(request).messaging.invitation(app, request.path_params["inv_id"])
    return render(request, views.invitation(Links(request), app.app_id, inv_snapshot(inv)))


async def accept(request: Request) -> Response:
    caller, app = await application_of(request)
    await read_body(request)
    await services(request).messaging.accept(caller, app, request.path_params["inv_id"])
    return empty(204)


async def decline(request: Request) -> Response:
    caller, app = await application_of(request)
    messaging = services(request).messaging
    await messaging.invitation(app, request.path_params["inv_id"])  # 404 before the body
    doc = await read_input(request)
    reason = doc.text("reason")
    doc.check()
    local = declines_locally(reason)
    await messaging.decline(caller, app, request.path_params["inv_id"], local=local)
    return empty(204)


async def cancel(request: Request) -> Response:
    caller, app = await application_of(request)
    await read_body(request)
    await services(request).messaging.cancel(caller, app, request.path_params["inv_id"])
    return empty(204)
