"""Discovery: the Autodiscover root, the user resource (401 until a token comes), xframe."""

from __future__ import annotations

import json

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


_XFRAME = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>openucwa xframe</title></head>
<body><script>
// Cross-domain relay (spec 2.1.2): the parent posts a JSON string naming a request; this frame
// performs it on its own origin and posts back the status, headers and response text. Only
// for parents of the allowed origins (OPENUCWA_XFRAME_ORIGINS; none listed: any), and only
// to this server: no page can borrow a visitor's browser to reach anything else.
var ALLOWED = __ALLOWED__;
window.addEventListener("message", function (event) {
  if (ALLOWED.length && ALLOWED.indexOf(event.origin) < 0) { return; }
  var req;
  try { req = typeof event.data === "string" ? JSON.parse(event.data) : event.data; }
  catch (e) { return; }
  if (!req || !req.url) { return; }
  var target;
  try { target = new URL(req.url, location.href); } catch (e) { return; }
  if (target.origin !== location.origin) { return; }
  var xhr = new XMLHttpRequest();
  xhr.open((req.type || "GET").toUpperCase(), target.href, true);
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


def xframe_page(allowed_origins: tuple[str, ...]) -> bytes:
    # JSON is a JavaScript literal; "<" escaped so that no origin can end the script.
    listed = json.dumps(list(allowed_origins)).replace("<", "\\u003c")
    return _XFRAME.replace("__ALLOWED__", listed).encode()


async def xframe(request: Request) -> Response:
    page = xframe_page(services(request).edge.xframe_origins)
    return render_bytes(request, 200, page, HTML_UTF8)
