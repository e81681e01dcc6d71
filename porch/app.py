"""``server(...)``: options and middleware in, an ASGI application out.

One way through a request: ``App.__call__`` -> ``Context`` -> static files
(``public``) -> body received -> session loaded from its cookie -> CSRF check
-> middleware chain -> reply -> session written back (only what changed) ->
response. Everything that can be decided once (options, signer, store, the
kind of every handler) is decided here, when the app is built.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .compression import accepts_gzip, send_gzipped, small
from .context import BODY_METHODS, Context, Responder
from .debug_page import development_error
from .errors import HTTPError, StoreUnavailable
from .favicon import Favicon
from .health import report_store, serve_health
from .logs import configure_logging, log_access, server_access_log_off
from .logsafe import client_gone, escape, safe_traceback
from .metrics import MeasuredStore, Metrics, measure_requests
from .option_schema import load_options, read_environment
from .options import Options
from .ready import ReadyResponse
from .reply import TEXT, reason
from .router import ErrorHandler, Route, flatten, route_wants_csrf
from .scope import cookie_and_body
from .security.csrf import check_csrf
from .security.headers import SecurityHeaders
from .security.requests import RequestGuard
from .serve import serve, settings_for
from .session import SessionLayer
from .session.stores import Store, store_from_url
from .socket import SocketHandler, SocketLayer
from .static import PublicFolder
from .step import Step, response_of
from .templates import Templates
from .unpassed import module_of_caller, warn_of_unpassed_routes

if TYPE_CHECKING:
    from .option_types import ServerOptions

PER_PROCESS_IN_PRODUCTION = (
    "ENV=production with the session store %r: SESSIONS WILL BE LOST. They live in this one "
    "process, so every restart or deploy logs every visitor out, and no other worker sees "
    "them. Use a shared store: set REDIS_URL=redis://host:6379/0, or "
    "SESSION_STORE=sqlite:///sessions.db."
)


def build_store(options: Options, metrics: Metrics | None = None) -> Store | None:
    session = options.session
    if session is None:
        return None
    if isinstance(session.store, Store):
        store = session.store
    else:  # the schema admits a Store or a URL, nothing else
        store = store_from_url(
            str(session.store), max_entries=session.max_entries, timeout=session.timeout
        )
    if session.encrypt:
        from .session.encryption import EncryptedStore

        store = EncryptedStore(store, session.secret.values)
    return store if metrics is None else MeasuredStore(store, metrics)


class App:
    """The ASGI application ``server()`` returns; ``app.run()`` serves it (porch.serve)."""

    def __init__(self, middleware: Iterable[Any], options: Options) -> None:
        self.options = options
        self.log = configure_logging(options.log).getChild("app")
        self.access_log = logging.getLogger("porch.access")
        self.writes_access_lines = True  # False once start-up finds the server's switched off
        self.started_by_porch = False  # app.run() and run() say so: the server's log is porch's
        self.chain: list[Route | Step] = []
        self.error_handlers: list[ErrorHandler] = []
        socket_handlers: list[SocketHandler] = []
        for item in flatten(middleware):
            if isinstance(item, ErrorHandler):
                self.error_handlers.append(item)
            elif isinstance(item, SocketHandler):
                socket_handlers.append(item)
            elif isinstance(item, Route | Step):  # Step: already made by sub()
                self.chain.append(item)
            else:
                self.chain.append(Step(item))
        self.metrics = Metrics(options.metrics) if options.metrics is not None else None
        self.store = build_store(options, self.metrics)
        self.sessions = (
            SessionLayer(options.session, self.store)
            if options.session is not None and self.store is not None
            else None
        )
        self.session_cookie = options.session.cookie.name if options.session else ""
        self.sockets = SocketLayer(self, socket_handlers) if socket_handlers else None
        self.csrf = options.security.csrf and self.sessions is not None
        self.static = self._public_folder(options.public)
        self.guard = RequestGuard(options.security)
        self.security_headers = SecurityHeaders(options.security, production=options.production)
        self.favicon = Favicon(options.favicon) if options.favicon is not None else None
        self.body_limit = options.body_limit
        self.trusts_proxy = options.trust_proxy not in (False, 0)
        self.templates = Templates(options.views)
        self._store_open = False
        self.compress = options.compress
        self.module: Mapping[str, Any] | None = None  # set by server(): the app's module
        # What handle() calls: respond, with the health endpoints and the metrics around it
        # when those options are on (off by default, and then nothing per request).
        self.answer: Responder = measure_requests(
            serve_health(self.respond, options, self.store, self.log),
            self.metrics,
            self.chain,
            options,
        )

    def __repr__(self) -> str:
        return f"<porch app: {len(self.chain)} middleware, store={type(self.store).__name__}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.sockets is not None and self.sockets.serves(scope):  # /socket.io/, before all
            await self.sockets(scope, receive, send)
        elif scope["type"] == "http":
            if scope["method"] == "HEAD":  # outside gzip, so HEAD shows GET's encoding too
                send = without_body(send)
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        else:  # a WebSocket that is not Socket.IO's (or an app without sockets): refuse
            await send({"type": "websocket.close", "code": 1000})

    # --- lifespan: the store opens and closes with the app ---

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.open()
                    if self.store is not None:  # logs whether it answered; never refuses
                        await report_store(self.store, self.log)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                freeze_startup_objects()
                if self.module is not None:  # built at a module's top level: that module's app
                    warn_of_unpassed_routes(self.module, apps_in(self.module))
                self.writes_access_lines = not server_access_log_off(self.started_by_porch)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def open(self) -> None:
        """Open the store (also done lazily on the first request, for servers without lifespan)."""
        if self.store is not None and not self._store_open:
            await self.store.open()
            self._store_open = True
            if self.store.per_process and self.options.production:  # loudly: they will be lost
                self.log.warning(PER_PROCESS_IN_PRODUCTION, self.store)

    async def close(self) -> None:
        if self.sockets is not None:
            await self.sockets.close()
        if self.store is not None and self._store_open:
            self._store_open = False
            await self.store.close()

    # --- one request ---

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        logs_access = self.writes_access_lines and self.access_log.isEnabledFor(logging.INFO)
        started = time.perf_counter() if logs_access else 0.0
        ctx = Context(self, scope, receive)
        response = await self.answer(ctx)
        ready = isinstance(response, ReadyResponse)  # porch's own headers only, body in hand
        self.security_headers.add_to(response.raw_headers, ctx, fresh=ready)
        try:
            if self.compress and not (ready and small(response)) and accepts_gzip(scope):
                await send_gzipped(response, scope, receive, send)
            else:  # a small reply, a client without gzip (most API clients and load testers)
                await response(scope, receive, send)
        except ClientDisconnect:  # gone while a streamed reply was sent: nobody to tell
            response = client_gone(ctx, self.log)
        finally:
            if ctx.has_form():  # uploads to close; otherwise nothing to await
                await ctx.close()
            if logs_access:
                self.log_access(ctx, response.status_code, started)

    def log_access(self, ctx: Context, status: int, started: float) -> None:
        """One line per request on ``porch.access`` (INFO); the fields also ride as extras."""
        elapsed_ms = (time.perf_counter() - started) * 1000
        log_access(self.access_log, ctx.method, ctx.url, status, elapsed_ms)

    async def respond(self, ctx: Context) -> Response:
        try:
            self.guard.check(ctx)
            if self.favicon is not None and ctx.path == "/favicon.ico":
                favicon = self.favicon.serve(ctx.method, ctx.scope)
                if favicon is not None:
                    return favicon
            if self.static is not None and ctx.method in ("GET", "HEAD"):
                static = self.static.response(ctx.scope)
                if static is not None:
                    return static
            if not self._store_open:
                await self.open()
            cookie_header, announces_body = cookie_and_body(ctx.scope)
            if announces_body or ctx.method in BODY_METHODS:
                await ctx.receive_body(self.body_limit)
            sessions = self.sessions
            if sessions is None:
                return await self.run_chain(ctx)
            ctx.session = await sessions.load(sessions.cookie_of(cookie_header, ctx))
            if self.csrf and route_wants_csrf(self.chain, ctx):
                check_csrf(ctx)
            response = await self.run_chain(ctx)
            # ctx.secure, without its lookups when no proxy is trusted (the usual case)
            https = ctx.scope.get("scheme") == "https" or (self.trusts_proxy and ctx.secure)
            await sessions.commit(ctx.session, response.raw_headers, https=https)
            return response
        except Exception as exc:
            return await self.fail(ctx, exc)

    async def run_chain(self, ctx: Context) -> Response:
        """Middleware in order; at most one route (the first that matches); None passes on."""
        route_ran = False
        method, path = ctx.method, ctx.path
        for item in self.chain:
            if isinstance(item, Route):
                if route_ran:
                    continue
                params = item.match(method, path)
                if params is None or (item.where is not None and not item.admits(ctx)):
                    continue
                route_ran = True
                ctx.params = params
                for step in item.handlers:
                    if step.direct:  # proven not to wait: called here, without a hop
                        result = step.function(ctx)
                        if result is not None:
                            return response_of(result, ctx, step.function, item)
                        continue
                    response = await step.respond(ctx, item)
                    if response is not None:
                        return response
            else:
                response = await item.respond(ctx)
                if response is not None:
                    return response
        return Response(reason(404), 404, media_type=TEXT)

    async def fail(self, ctx: Context, exc: Exception) -> Response:
        """Offer the exception to the error handlers; else porch's default answer."""
        if isinstance(exc, ClientDisconnect):  # not an error of the app: nobody to answer
            return client_gone(ctx, self.log)
        ctx.error = exc
        for handler in self.error_handlers:
            if not handler.handles(exc):
                continue
            try:
                response = await handler.step.respond(ctx, role="error handler")
                if response is not None:
                    return response
            except Exception as inner:
                self.log.error(
                    "An error handler failed while handling %s\n%s",
                    escape(repr(exc)),
                    safe_traceback(inner),
                )
                exc = inner
                break
        return self.default_error(ctx, exc)

    def default_error(self, ctx: Context, exc: Exception) -> Response:
        if isinstance(exc, StoreUnavailable):
            self.log.error("%s %s: 503, %s", escape(ctx.method), escape(ctx.path), escape(str(exc)))
            return Response(
                "Service Unavailable: the session store cannot be reached; try again shortly.",
                503,
                media_type=TEXT,
            )
        if isinstance(exc, HTTPError):
            closes = exc.status in (408, 413)  # the rest of that body is not worth reading
            headers = {"connection": "close"} if closes else None
            return Response(str(exc), exc.status, headers=headers, media_type=TEXT)
        self.log.error("%s %s: 500\n%s", escape(ctx.method), escape(ctx.path), safe_traceback(exc))
        if self.options.production:
            return Response(reason(500), 500, media_type=TEXT)
        try:  # the traceback as HTML, JSON or text, as the client asks; secrets masked
            return development_error(ctx, exc)
        except Exception:  # the log above has the traceback; this one says why the page failed
            self.log.exception("The development error page failed; answering plain text")
            return Response(reason(500), 500, media_type=TEXT)

    # --- static files and templates ---

    def _public_folder(self, public: str | None) -> PublicFolder | None:
        if public is None or not Path(public).is_dir():
            return None
        return PublicFolder(public)

    def render(self, name: str, local: Mapping[str, Any]) -> str:
        """Render a template of the ``views`` folder (what ``render()`` replies call)."""
        return self.templates.render(name, local)

    # --- running ---

    def run(
        self, *, port: int | None = None, host: str | None = None, server: str | None = None
    ) -> None:
        """Serve on ``host`` and ``port`` (options HOST, PORT) with Granian, or uvicorn (SERVER).

        For several workers or auto-reload, use ``porch serve module:app``.
        """
        serve(self, settings_for(self, host=host, port=port, server=server))


def freeze_startup_objects() -> None:
    """Keep what exists at start-up (modules, the app, pools) out of the cyclic GC's scans.

    Under load, the objects of requests in flight survive young collections and
    pile up in the oldest generation, so Python runs full collections every
    second or so. Each one walked every object of the process, start-up objects
    included, and stalled the event loop for about 10 ms: that was porch's p99
    latency. After ``gc.freeze()`` a full collection only walks what was made
    since. A collection first frees start-up garbage, so nothing is frozen
    needlessly; objects freed by reference counting are freed as before. Once
    per process: a server starts once, and a test suite that starts many apps
    with ``run()`` pays for the collection only the first time.
    """
    global _startup_frozen
    if _startup_frozen:
        return
    _startup_frozen = True
    gc.collect()
    gc.freeze()


_startup_frozen = False


def without_body(send: Send) -> Send:
    """HEAD: the same headers as GET, no body, whatever server runs the app."""

    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_headers_only


def apps_in(module: Mapping[str, Any]) -> list[App]:
    """The apps a module made (``app = server(...)``): what its routes were passed to."""
    return [value for value in module.values() if isinstance(value, App)]


def server(*middleware: Any, **options: Unpack[ServerOptions]) -> App:
    """Build an app from middleware and options: ``app = server(counter, port=8080)``.

    Options come from the environment (and ``.env``) first, then these
    arguments, then the defaults; a bad one raises ``ConfigError`` here, at
    start-up. A dict among the positional arguments is read as options, as in
    server.js: ``server({'port': 8080}, routes)``.
    """
    arguments: dict[str, Any] = {}
    chain: list[Any] = []
    for item in middleware:
        if isinstance(item, Mapping):
            arguments.update(item)
        else:
            chain.append(item)
    arguments.update(options)
    app = App(chain, load_options(arguments, read_environment()))
    app.module = module_of_caller()  # checked at start-up for routes it never passed here
    return app


__all__ = ["App", "apps_in", "server"]
