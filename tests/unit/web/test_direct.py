"""The direct routes' Request, headers index and path functions behave as Starlette's."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route

from openucwa.web.asgi import DirectRequest, IndexedHeaders
from openucwa.web.links import _FIELD, _compile
from openucwa.web.routes import ROUTES

RAW = [
    (b"host", b"example.com"),
    (b"accept", b"application/json"),
    (b"x-dup", b"first"),
    (b"x-dup", b"second"),
]


def _scope(headers: Any = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": list(RAW) if headers is None else headers,
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def test_direct_request_has_every_attribute_starlette_sets() -> None:
    plain = Request(_scope(), _receive, _send)
    direct = DirectRequest(_scope(), _receive, _send)
    assert set(vars(plain)) <= set(vars(direct)) | {"_headers"}
    assert direct.method == plain.method == "POST"
    assert direct.receive is _receive


def test_indexed_headers_read_as_starlette_headers() -> None:
    mine, theirs = IndexedHeaders(_scope()), Headers(scope=_scope())
    for name in ("host", "Host", "ACCEPT", "x-dup", "X-Dup", "missing"):
        assert mine.get(name) == theirs.get(name)
        assert (name in mine) == (name in theirs)
    assert mine["X-DUP"] == theirs["x-dup"] == "first"
    assert mine.get("missing", "d") == "d"
    assert mine.items() == theirs.items() and mine.raw == theirs.raw


def test_indexed_headers_accept_a_tuple_of_headers() -> None:
    scope = _scope(tuple(RAW))
    assert IndexedHeaders(scope).get("host") == "example.com"
    assert scope["headers"] == RAW


def test_compiled_paths_are_the_route_templates_filled_in() -> None:
    for route in ROUTES:
        if isinstance(route, Route):
            template = route.path_format
            params = {name: f"v{i}{{x}}%2F" for i, name in enumerate(_FIELD.findall(template))}
            assert _compile(template)(params) == template.format_map(params)
