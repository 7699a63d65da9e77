"""Discovery: the Autodiscover root, the user resource (401 until a token comes), xframe."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openucwa.representation.media_types import HTML_UTF8
from openucwa.representation.resource import Link, Resource
from openucwa.web.context import services
from openucwa.web.links import Links
from openucwa.web.respond import render, render_bytes
from openucwa.web.security import authenticate


def _domain(request: Request) -> str:
    given = request.query_params.get("originalDomain", "").strip().lower()
    return given if given else services(request).organization.primary_domain


async def root(request: Request) -> Response:
    links = Links(request)
    domain = _domain(request)
    resource = Resource(
        "root",
        href=links.root(domain),
        links={"user": Link(links.user(domain)), "xframe": Link(links.xframe())},
        rel_in_json=False,
    )
    return render(request, resource)


async def user(request: Request) -> Response:
    await authenticate(request)  # 401 + MsRtcOAuth challenge without a valid token
    links = Links(request)
    resource = Resource(
        "user",
        href=links.user_self(),
        links={
            "applications": Link(links.applications_absolute()),
            "xframe": Link(links.xframe()),
        },
        rel_in_json=False,
    )
    return render(request, resource)  # a HEAD gets GET's header fields and no content


_XFRAME = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>openucwa xframe</title></head>
<body><script>
// Cross-domain relay (spec 2.1.2): the parent posts a JSON string naming a request; this frame
// performs it on its own origin and posts back the status, headers and response text.
window.addEventListener("message", function (event) {
  var req;
  try { req = typeof event.data === "string" ? JSON.parse(event.data) : event.data; }
  catch (e) { return; }
  if (!req || !req.url) { return; }
  var xhr = new XMLHttpRequest();
  xhr.open((req.type || "GET").toUpperCase(), req.url, true);
  var headers = req.headers || {};
  Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
  if (req.contentType) { xhr.setRequestHeader("Content-Type", req.contentType); }
  if (req.accepts) { xhr.setRequestHeader("Accept", req.accepts); }
  xhr.onreadystatechange = function () {
    if (xhr.readyState !== 4) { return; }
    event.source.postMessage(JSON.stringify({
      messageId: req.messageId, status: xhr.status, statusText: xhr.statusText,
      responseText: xhr.responseText, headers: xhr.getAllResponseHeaders()
    }), event.origin);
  };
  xhr.send(req.data === undefined ? null : req.data);
}, false);
</script></body></html>
"""


async def xframe(request: Request) -> Response:
    return render_bytes(request, 200, _XFRAME, HTML_UTF8)
