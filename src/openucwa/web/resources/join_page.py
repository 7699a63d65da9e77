"""The page a joinUrl opens: names the meeting (the browser join client comes later)."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import Response

from openucwa.representation.media_types import HTML_UTF8
from openucwa.web.context import services
from openucwa.web.respond import render_bytes

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body></html>
"""

# The page shows text its organizer chose: no scripts, styles, frames or sniffing, whatever
# that text holds (it is escaped as well).
HARDENING = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


async def join_page(request: Request) -> Response:
    svc = services(request)
    meeting = await svc.meetings.find_for_join_page(
        request.path_params["user_part"], request.path_params["meeting_id"]
    )
    if meeting is None:
        page = _PAGE.format(
            title="Meeting not found", body="<p>This meeting does not exist or was deleted.</p>"
        )
        return render_bytes(request, 404, page.encode(), HTML_UTF8, HARDENING)
    organizer = await svc.users.get(meeting.organizer_uri)
    name = organizer.name if organizer else meeting.organizer_uri
    subject = meeting.subject or "Online meeting"
    body = (
        f"<p>Organizer: {escape(name)} ({escape(meeting.organizer_uri)})</p>"
        f"<p>Meeting id: <code>{escape(meeting.meeting_id)}</code></p>"
        f'<p>Conference URI: <code id="uri">{escape(meeting.online_meeting_uri)}</code></p>'
    )
    page = _PAGE.format(title=escape(subject), body=body)
    return render_bytes(request, 200, page.encode(), HTML_UTF8, HARDENING)
