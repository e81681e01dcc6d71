"""``run()``: start the real server on a free loopback port and talk to it like a browser.

```python
async with run(counter) as api:           # async form: the server runs on this loop
    assert (await api.get('/')).body == {'views': 1}

with run(counter) as api:                 # sync form: the server runs in a thread
    assert api.get('/').status == 200

await run(counter).alive(check)           # check(api), as server.js
await run(counter).get('/')               # one request, then stop
await api.post('/transfer', csrf=True)    # sends this browser's CSRF token
```
"""

from __future__ import annotations

import http.cookiejar
import inspect
import ipaddress
import urllib.request
import warnings
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack, overload

import httpx
import orjson
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..app import App
from ..app import server as build
from ..context import Context
from ..security.csrf import csrf_token
from .drain import GRACE, Connections, left_open_message
from .servers import Runner, StartupWatch, runner_for

if TYPE_CHECKING:
    from ..option_types import ServerOptions

T = TypeVar("T")
C = TypeVar("C", httpx.Client, httpx.AsyncClient)
MAX_REDIRECTS = 20
START_TIMEOUT = 10.0
POLL = 0.005
CSRF_PROBE = "/.porch-test/csrf"
"""Where run()'s server answers ``api.csrf()``; only run() mounts it, never ``server()``."""


def with_csrf_probe(app: App) -> ASGIApp:
    """The app, plus the one path ``api.csrf()`` asks: this browser's CSRF token, as text.

    It goes through the app's real session layer (the cookie is read, and a new
    session's cookie is set), so the token is exactly what ``ctx.csrf`` would give.
    """

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CSRF_PROBE:
            return await app(scope, receive, send)
        if app.sessions is None:
            response = PlainTextResponse("sessions are off (session=False): no CSRF token", 404)
            return await response(scope, receive, send)
        await app.open()
        ctx = Context(app, scope, receive)
        session = await app.sessions.load(ctx.cookies.get(app.session_cookie))
        response = PlainTextResponse(csrf_token(session))
        await app.sessions.commit(session, response.raw_headers)
        await response(scope, receive, send)

    return probe


def csrf_header(kwargs: dict[str, Any], token: str) -> None:
    """Add ``X-CSRF-Token`` to a request's headers, keeping the ones the test gave."""
    headers = httpx.Headers(kwargs.get("headers"))
    headers["x-csrf-token"] = token
    kwargs["headers"] = headers


def probed_token(response: httpx.Response) -> str:
    if response.status_code != 200:
        raise RuntimeError(f"api.csrf(): {response.text}")
    return response.text


class Response:
    """What a test sees: ``.status``, ``.body`` (JSON decoded, else text), ``.headers``...

    ``.cookies`` holds the cookies this response set; ``.raw`` is the httpx response.
    """

    def __init__(self, raw: httpx.Response) -> None:
        self.raw = raw
        self.status = raw.status_code
        self.headers = raw.headers
        self.cookies = dict(raw.cookies)
        self.text = raw.text
        content_type = raw.headers.get("content-type", "")
        is_json = content_type.startswith("application/json") or "+json" in content_type
        self.body: Any = orjson.loads(raw.content) if is_json and raw.content else raw.text

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body!r:.60}>"


class LoopbackCookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Send ``Secure`` cookies to loopback over plain HTTP, as browsers do for localhost.

    Without this, tests of a production-configured app would lose the session.
    """

    def return_ok_secure(
        self, cookie: http.cookiejar.Cookie, request: urllib.request.Request
    ) -> bool:
        host = request.host.rsplit(":", 1)[0].strip("[]")
        try:
            if ipaddress.ip_address(host).is_loopback:
                return True
        except ValueError:
            if host == "localhost":
                return True
        return super().return_ok_secure(cookie, request)


def cookie_jar() -> http.cookiejar.CookieJar:
    """A jar for the client; httpx uses a CookieJar it is given as is (not a Cookies copy)."""
    return http.cookiejar.CookieJar(policy=LoopbackCookiePolicy())


class Api(Generic[C]):
    """A client that keeps cookies between calls, like a browser.

    porch keeps the cookie jar itself (``api.cookies``) rather than httpx's,
    because httpx copies cookies into a jar with the default policy on every
    request, which would drop ``Secure`` cookies on loopback.
    """

    def __init__(self, client: C, base_url: str) -> None:
        self.client: C = client
        self.url = base_url
        self.cookies = httpx.Cookies(cookie_jar())

    def _prepare(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Request:
        request = self.client.build_request(method, url, **kwargs)
        return self._with_cookies(request)

    def _with_cookies(self, request: httpx.Request) -> httpx.Request:
        if "cookie" not in request.headers:
            self.cookies.set_cookie_header(request)
        return request

    def _keep(self, response: httpx.Response) -> httpx.Response:
        self.cookies.extract_cookies(response)
        self.client.cookies.clear()
        return response

    def _next_hop(self, request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
        """The request a browser makes after a redirect, cookies from this jar included."""
        if not response.has_redirect_location:
            return None
        method, content = request.method, request.content
        if (response.status_code == 303 and method != "HEAD") or (
            response.status_code in (301, 302) and method == "POST"
        ):
            method, content = "GET", b""
        target = request.url.join(response.headers["location"])
        return self._with_cookies(self.client.build_request(method, target, content=content))


class AsyncApi(Api[httpx.AsyncClient]):
    """``await api.get('/')``: the async form's client."""

    async def csrf(self) -> str:
        """This browser's CSRF token (a fresh mask each call; the session starts if new)."""
        return probed_token(
            self._keep(await self.client.send(self._prepare("GET", CSRF_PROBE, {})))
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """One request; ``csrf=True`` also sends this browser's CSRF token as ``X-CSRF-Token``."""
        if kwargs.pop("csrf", False):
            csrf_header(kwargs, await self.csrf())
        follow = kwargs.pop("follow_redirects", False)
        auth = kwargs.pop("auth", None)
        request: httpx.Request | None = self._prepare(method, url, kwargs)
        for _ in range(MAX_REDIRECTS):
            assert request is not None
            response = self._keep(await self.client.send(request, auth=auth))
            request = self._next_hop(request, response) if follow else None
            if request is None:
                break
        return Response(response)

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> Response:
        return await self.request("HEAD", url, **kwargs)


class SyncApi(Api[httpx.Client]):
    """``api.get('/')``: the sync form's client."""

    def csrf(self) -> str:
        """This browser's CSRF token (a fresh mask each call; the session starts if new)."""
        return probed_token(self._keep(self.client.send(self._prepare("GET", CSRF_PROBE, {}))))

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """One request; ``csrf=True`` also sends this browser's CSRF token as ``X-CSRF-Token``."""
        if kwargs.pop("csrf", False):
            csrf_header(kwargs, self.csrf())
        follow = kwargs.pop("follow_redirects", False)
        auth = kwargs.pop("auth", None)
        request: httpx.Request | None = self._prepare(method, url, kwargs)
        for _ in range(MAX_REDIRECTS):
            assert request is not None
            response = self._keep(self.client.send(request, auth=auth))
            request = self._next_hop(request, response) if follow else None
            if request is None:
                break
        return Response(response)

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)


class run:
    """Start the app (or the middleware and options for ``server()``) on a free port.

    Takes the same arguments as ``server()``, or one app that ``server()``
    built, and ``server='granian'`` or ``'uvicorn'``: the server to start,
    by default the app's ``server`` option (``SERVER``, else Granian, as in
    production). The server is real, so a test sees exactly what a browser
    would; it stops, with its port and threads, when the block ends.
    """

    def __init__(self, *middleware: Any, **options: Unpack[ServerOptions]) -> None:
        server: str | None = options.pop("server", None)  # run()'s own: which server to start
        if len(middleware) == 1 and isinstance(middleware[0], App) and not options:
            self.app = middleware[0]
        else:
            options.setdefault("env", "test")
            self.app = build(*middleware, **options)
        self.app.started_by_porch = True  # the server's access log is off here for porch's own
        self.server = self.app.options.server if server is None else server
        self._runner: Runner | None = None
        self._connections: Connections | None = None
        self._async_api: AsyncApi | None = None
        self._sync_api: SyncApi | None = None

    def _prepare(self) -> Runner:
        watch = StartupWatch(with_csrf_probe(self.app))
        self._connections = Connections(watch, self.app)
        self._runner = runner_for(self.server, self.app, self._connections, watch)
        return self._runner

    def _warn_of(self, left: list[str]) -> None:
        if left:
            warnings.warn(left_open_message(left), ResourceWarning, stacklevel=3)

    # --- async form ---

    async def __aenter__(self) -> AsyncApi:
        runner = self._prepare()
        await runner.start()
        client = httpx.AsyncClient(base_url=runner.url, follow_redirects=False)
        self._async_api = AsyncApi(client, runner.url)
        return self._async_api

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._async_api is not None:
            await self._async_api.client.aclose()
            self._async_api = None
        if self._runner is not None and self._connections is not None:
            runner, self._runner = self._runner, None
            left = await self._connections.end()
            await runner.stop()
            self._warn_of(left)

    @overload
    async def alive(self, check: Callable[[AsyncApi], Awaitable[T]]) -> T: ...
    @overload
    async def alive(self, check: Callable[[AsyncApi], T]) -> T: ...
    async def alive(self, check: Callable[[AsyncApi], Any]) -> Any:
        """Run ``check(api)`` against the running server, then stop it (server.js's ``alive``)."""
        async with self as api:
            result = check(api)
            return await result if inspect.isawaitable(result) else result

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """One request against a server started for it alone."""
        async with self as api:
            return await api.request(method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> Response:
        return await self.request("HEAD", url, **kwargs)

    # --- sync form: the server runs on its own loop in a thread ---

    def __enter__(self) -> SyncApi:
        runner = self._prepare()
        runner.start_in_thread()
        self._sync_api = SyncApi(
            httpx.Client(base_url=runner.url, follow_redirects=False), runner.url
        )
        return self._sync_api

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._sync_api is not None:
            self._sync_api.client.close()
            self._sync_api = None
        if self._runner is not None and self._connections is not None:
            runner, self._runner = self._runner, None
            left: list[str] = []
            if runner.threaded.alive():
                left = runner.threaded.run(self._connections.end(), timeout=4 * GRACE)
            runner.stop_thread()
            self._warn_of(left)
