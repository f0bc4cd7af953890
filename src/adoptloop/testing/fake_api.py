"""A fake vendor API on `httpx.MockTransport`: routes, a request log and scripted failures.

    api = FakeApi()
    api.route("GET", "/v2/Users", lambda request: json_response({...}))
    api.fail_next(status_response(429, retry_after=7))  # the next request gets a 429
    connector = ScimConnector(config, context, transport=api.transport())

Routes match the request path exactly, or by prefix when the route ends with `*`. A request
no route matches gets a 404 with a JSON body naming the path, so a connector calling the wrong
endpoint fails loudly in tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

Handler = Callable[[httpx.Request], httpx.Response]

BASE_URL = "https://api.example.test"


def json_response(
    body: Any, status: int = 200, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        content=orjson.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def text_response(
    body: str, status: int = 200, *, content_type: str = "text/html"
) -> httpx.Response:
    return httpx.Response(status, content=body.encode(), headers={"Content-Type": content_type})


def status_response(status: int, *, retry_after: int | None = None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return json_response({"error": f"HTTP {status}"}, status, headers=headers)


def form(request: httpx.Request) -> dict[str, str]:
    """The url-encoded form body of a request, as a dict (last value wins)."""
    pairs = httpx.QueryParams(request.content.decode())
    return {key: pairs[key] for key in pairs}


@dataclass
class _Scripted:
    response: httpx.Response
    path: str | None


class FakeApi:
    def __init__(self, base_url: str = BASE_URL) -> None:
        self.base_url = base_url
        self.requests: list[httpx.Request] = []
        self._routes: list[tuple[str, str, Handler]] = []
        self._scripted: deque[_Scripted] = deque()
        self._always: _Scripted | None = None

    # --- set-up ----------------------------------------------------------------------------

    def route(self, method: str, path: str, handler: Handler, *, first: bool = False) -> None:
        """Serve `path` with `handler`; `first` puts it ahead of the routes already there."""
        entry = (method.upper(), path, handler)
        if first:
            self._routes.insert(0, entry)
        else:
            self._routes.append(entry)

    def fail_next(self, *responses: httpx.Response, path: str | None = None) -> None:
        """The next requests (to `path`, when given) get these answers, in order."""
        self._scripted.extend(_Scripted(r, path) for r in responses)

    def fail_always(self, response: httpx.Response, *, path: str | None = None) -> None:
        """Every request (to `path`, when given) gets this answer from now on."""
        self._always = _Scripted(response, path)

    def heal(self) -> None:
        self._scripted.clear()
        self._always = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # --- inspection ------------------------------------------------------------------------

    def calls(self, path: str | None = None, method: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (path is None or _matches(path, r.url.path))
            and (method is None or r.method == method.upper())
        ]

    # --- serving ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self._always is not None and _applies(self._always, request):
            return _copy(self._always.response)
        for index, scripted in enumerate(self._scripted):
            if _applies(scripted, request):
                del self._scripted[index]
                return _copy(scripted.response)
        for method, path, handler in self._routes:
            if method == request.method and _matches(path, request.url.path):
                return handler(request)
        return json_response({"error": f"no route for {request.method} {request.url.path}"}, 404)


def _matches(route: str, path: str) -> bool:
    if route.endswith("*"):
        return path.startswith(route[:-1])
    return path == route


def _applies(scripted: _Scripted, request: httpx.Request) -> bool:
    return scripted.path is None or _matches(scripted.path, request.url.path)


def _copy(response: httpx.Response) -> httpx.Response:
    """A fresh response each time: an httpx.Response can be read by one request only."""
    return httpx.Response(
        response.status_code, content=response.content, headers=dict(response.headers)
    )
