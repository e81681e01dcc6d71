"""Routes, subdomains and error handlers: ``get('/users/:id', fn)``, ``sub('api', ...)``,
``error('store', fn)``.

A route is a middleware that only runs for its method and path; a request runs
at most one route, the first that matches (server.js's "routes are final").
``sub()`` narrows routes and middleware further, to the hosts of one subdomain.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import anyio.to_thread
from starlette.responses import Response

from .inline import runs_inline
from .origin import caller_location, unsupported_reply
from .pattern import compile_path
from .reply import to_response
from .security.csrf import UNSAFE_METHODS
from .security.hosts import parse_host, request_host

if TYPE_CHECKING:
    from .context import Context

Handler: TypeAlias = Callable[["Context"], Any]
Decorator: TypeAlias = Callable[[Handler], "Route"]


class Step:
    """One callable of a chain, sync or async, with its kind decided once, not per request.

    ``where`` (set by ``sub()``) limits it to the hosts of one subdomain: on any
    other host the step passes (returns None) without running.
    """

    __slots__ = ("direct", "function", "inline", "is_async", "where")

    def __init__(self, function: Handler, *, where: Subdomain | None = None) -> None:
        if not callable(function):
            raise TypeError(
                f"porch middleware must be callable as fn(ctx); got {function!r} "
                f"({type(function).__name__})."
            )
        self.function = function
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - async callable objects
        )
        # A sync function runs on the loop only when porch can prove it never waits
        # (porch/inline.py); any other runs in a worker thread.
        self.inline = not self.is_async and runs_inline(function)
        self.where = where
        # The caller may call ``function(ctx)`` directly, skipping ``__call__``: an
        # inline function for any host, whose result is never awaitable
        # (porch/inline.py admits no call that could return one).
        self.direct = self.inline and where is None

    async def __call__(self, ctx: Context) -> Any:
        """Run it and return its result as is (a socket event's acknowledgement); a sync
        function that might block runs in a worker thread, so it cannot stall others.
        HTTP requests use ``respond``, which also builds the response there."""
        if self.where is not None and not self.where.admits(ctx):
            return None
        if self.is_async:
            return await self.function(ctx)
        if self.inline:
            result = self.function(ctx)
        else:
            result = await anyio.to_thread.run_sync(self.function, ctx)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def respond(
        self, ctx: Context, route: Route | None = None, *, role: str = "middleware"
    ) -> Response | None:
        """Run it for an HTTP request and turn its result into the response where it ran.

        For a threaded function that is its worker thread: a template it renders
        (which may touch a lazy database attribute) or a file it sends is read
        there, never on the loop. None when it passed on. A result porch cannot
        send is an error naming this function (and its ``route``), not porch.
        """
        if self.where is not None and not self.where.admits(ctx):
            return None
        function = self.function
        if self.is_async:
            result = await function(ctx)
        elif self.inline:  # the rule admits no call that could return an awaitable
            result = function(ctx)
        else:
            result = await anyio.to_thread.run_sync(run_and_respond, function, ctx, route, role)
            if inspect.isawaitable(result):
                result = await result
        if result is None or isinstance(result, Response):
            return result
        return response_of(result, ctx, function, route, role=role)


def run_and_respond(function: Handler, ctx: Context, route: Route | None, role: str) -> Any:
    """In a worker thread: the result as a response (an awaitable is left to the loop)."""
    result = function(ctx)
    if result is None or inspect.isawaitable(result):
        return result
    return response_of(result, ctx, function, route, role=role)


def response_of(
    result: Any,
    ctx: Context,
    function: Any,
    route: Route | None = None,
    *,
    role: str = "middleware",
) -> Response:
    """``to_response``, with a value porch cannot send restated to name the user's function
    (module, name, route) rather than porch's internals. A TypeError the function raised
    itself is not caught here: only the conversion runs inside."""
    try:
        return to_response(result, ctx)
    except TypeError as exc:
        raise unsupported_reply(exc, function, route, role=role) from exc


class Route:
    """A method, a path and the handlers that run, in order, when both match."""

    __slots__ = (
        "csrf",
        "defined_at",
        "handlers",
        "method",
        "names",
        "path",
        "plain",
        "regex",
        "where",
    )

    def __init__(
        self,
        method: str | None,
        path: str,
        handlers: Iterable[Handler],
        *,
        where: Subdomain | None = None,
        csrf: bool = True,
        defined_at: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        # False: unsafe requests to this route skip the CSRF check (an API for
        # non-browser clients); see porch/security/csrf.py.
        self.csrf = csrf
        self.defined_at = defined_at  # 'app.py:12', for porch's messages and `porch routes`
        self.handlers = tuple(
            handler if isinstance(handler, Step) else Step(handler) for handler in handlers
        )
        self.regex, self.names = compile_path(path)
        self.plain = path.rstrip("/") or "/"
        self.where = where

    def __repr__(self) -> str:
        on = f" on {self.where}" if self.where is not None else ""
        return f"Route({self.method or '*'} {self.path}{on})"

    def __call__(self, handler: Handler) -> Route:
        """``@get('/account', signed_in)`` above a function: the function runs last.

        Lets guards and the handler read top to bottom, as in the call form
        ``get('/account', signed_in, account)``.
        """
        return self.with_handlers((*self.handlers, handler))

    def with_handlers(
        self, handlers: Iterable[Handler | Step], *, where: Subdomain | None = None
    ) -> Route:
        """The same route (method, path, CSRF choice, origin) with other handlers or host."""
        return Route(
            self.method,
            self.path,
            handlers,
            where=where if where is not None else self.where,
            csrf=self.csrf,
            defined_at=self.defined_at,
        )

    def admits(self, ctx: Context) -> bool:
        """Whether the request's host is one this route serves (any host, unless ``sub()``)."""
        return self.where is None or self.where.admits(ctx)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route answers the request, else None."""
        wanted = self.method  # None: any method; a GET route also answers HEAD
        if wanted is not None and wanted != method and (method != "HEAD" or wanted != "GET"):
            return None
        if self.path == "*":
            return {}
        if self.regex is None:
            trimmed = path.rstrip("/") or "/"
            return {} if trimmed == self.plain else None
        found = self.regex.match(path)
        if found is None:
            return None
        return dict(zip(self.names, found.groups(), strict=True))


def subdomain_of(host: str, domain: str | None) -> str | None:
    """The subdomain a Host header names: ``'api'`` for ``api.example.com:3000``.

    With the ``domain`` option set, it is whatever precedes ``.<domain>``, and a
    host outside that domain has none. Without it, the base domain is the last
    two labels (as server.js and Express), or ``localhost`` for ``*.localhost``,
    so ``api.localhost:3000`` works in development. ``''`` is the bare domain;
    None means no subdomain can be read (an IP address, a foreign host).
    """
    parsed = parse_host(host)
    if parsed is None or parsed.name.startswith("["):  # not a host, or an IPv6 literal
        return None
    name = parsed.name
    if domain is not None:
        if name == domain:
            return ""
        return name.removesuffix(f".{domain}") if name.endswith(f".{domain}") else None
    labels = name.split(".")
    if labels[-1].isdigit():  # an IPv4 address: no subdomains
        return None
    base = 1 if labels[-1] == "localhost" else 2
    return ".".join(labels[:-base])


class Subdomain:
    """The hosts ``sub(name, ...)`` admits: that subdomain exactly, or a regex matching it."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: str | re.Pattern[str]) -> None:
        if isinstance(pattern, str):
            pattern = pattern.strip().strip(".").lower()
        elif not isinstance(pattern, re.Pattern):
            raise TypeError(
                f"sub() takes a subdomain name such as 'api' (or a compiled regex) first; "
                f"got {pattern!r} ({type(pattern).__name__})."
            )
        self.pattern = pattern

    def __repr__(self) -> str:
        shown = self.pattern if isinstance(self.pattern, str) else self.pattern.pattern
        return f"sub({shown!r})"

    def admits(self, ctx: Context) -> bool:
        found = subdomain_of(request_host(ctx) or "", ctx.options.domain)
        if found is None:
            return False
        if isinstance(self.pattern, str):
            return found == self.pattern
        return self.pattern.fullmatch(found) is not None


def flatten(items: Iterable[Any]) -> Iterator[Any]:
    """Middleware may come in (nested) lists, as in server.js."""
    for item in items:
        if isinstance(item, list | tuple):
            yield from flatten(item)
        else:
            yield item


def sub(name: str | re.Pattern[str], *middleware: Any, csrf: bool = True) -> list[Route | Step]:
    """Routes and middleware that only run for one subdomain: ``sub('api', get('/', fn))``.

    ``name`` is the subdomain as the Host header gives it, below the base
    domain (the ``domain`` option, else the last two labels): ``'api'`` for
    ``api.example.com``, ``'eu.api'`` for ``eu.api.example.com``, ``''`` for
    the bare domain; or a compiled regex that must match all of it. On any
    other host the routes do not match and the middleware pass, so the rest of
    the chain answers. Error handlers apply to the whole app: give ``error()``
    to ``server()``, not to ``sub()``. ``csrf=False`` turns the CSRF check off
    for its routes (an API subdomain that non-browser clients call).
    """
    where = Subdomain(name)
    limited: list[Route | Step] = []
    for item in flatten(middleware):
        if isinstance(item, ErrorHandler):
            raise TypeError(
                f"sub({name!r}, ...) got an error handler; error handlers apply to the whole "
                "app, so pass error(...) to server() instead."
            )
        if isinstance(item, Route | Step) and item.where is not None:
            raise TypeError(f"sub({name!r}, ...) got {item!r}, already limited to a subdomain.")
        if isinstance(item, Route):
            copy = item.with_handlers(item.handlers, where=where)
            copy.csrf = item.csrf and csrf
            limited.append(copy)
        elif isinstance(item, Step):
            limited.append(Step(item.function, where=where))
        else:
            limited.append(Step(item, where=where))
    return limited


class ErrorHandler:
    """``error([code,] fn)``: handles exceptions whose ``.code`` starts with ``code``."""

    __slots__ = ("code", "step")

    def __init__(self, code: str | None, handler: Handler) -> None:
        self.code = code
        self.step = Step(handler)

    def handles(self, exc: BaseException) -> bool:
        if self.code is None:
            return True
        code = getattr(exc, "code", None)
        return isinstance(code, str) and code.startswith(self.code)


class RouteMaker:
    """``get``, ``post``...: each works as a decorator or called with its handlers.

    ``@get('/users/:id')`` above a function, or ``get('/', fn1, fn2)``: the
    handlers run in order until one returns something other than None.
    """

    __slots__ = ("method",)

    def __init__(self, method: str | None) -> None:
        self.method = method

    def __repr__(self) -> str:
        return f"porch.{(self.method or 'all').lower()}"

    @overload
    def __call__(self, path: str, *, csrf: bool = True) -> Decorator: ...
    @overload
    def __call__(self, path: str, *handlers: Handler, csrf: bool = True) -> Route: ...
    def __call__(self, path: str, *handlers: Handler, csrf: bool = True) -> Route | Decorator:
        """``csrf=False``: unsafe requests to this route skip the CSRF check (a JSON API)."""
        method = self.method
        defined_at = caller_location()
        compile_path(path)  # a malformed path fails here, at the line that wrote it
        if handlers:
            return Route(method, path, handlers, csrf=csrf, defined_at=defined_at)

        def decorate(handler: Handler) -> Route:
            return Route(method, path, (handler,), csrf=csrf, defined_at=defined_at)

        return decorate


get = RouteMaker("GET")
post = RouteMaker("POST")
put = RouteMaker("PUT")
patch = RouteMaker("PATCH")
delete = RouteMaker("DELETE")
head = RouteMaker("HEAD")
options = RouteMaker("OPTIONS")


def route_wants_csrf(chain: Sequence[Route | Step], ctx: Context) -> bool:
    """Whether the route that will answer an unsafe request keeps the CSRF check.

    A route made with ``csrf=False`` (or inside ``sub(..., csrf=False)``) is an
    API for clients that send no session cookie, so there is nothing to forge.
    The check is decided before any middleware runs, as for every other
    request: the route that answers is the first whose method, path and host
    match (routes are final). A request no route answers keeps the check.
    """
    if ctx.method not in UNSAFE_METHODS:
        return False
    for item in chain:
        if (
            isinstance(item, Route)
            and item.match(ctx.method, ctx.path) is not None
            and item.admits(ctx)
        ):
            return item.csrf
    return True


@overload
def error(handler: Handler, /) -> ErrorHandler: ...
@overload
def error(code: str, handler: Handler, /) -> ErrorHandler: ...
@overload
def error(code: str, /) -> Callable[[Handler], ErrorHandler]: ...
def error(
    code_or_handler: str | Handler, handler: Handler | None = None, /
) -> ErrorHandler | Callable[[Handler], ErrorHandler]:
    """An error handler: ``error(fn)`` catches all, ``error('store', fn)`` matching codes.

    The exception is ``ctx.error``; what the handler returns is the reply
    (``None`` leaves porch's default answer: the exception's status, else 500).
    """
    if isinstance(code_or_handler, str):
        code = code_or_handler
        if handler is not None:
            return ErrorHandler(code, handler)
        return lambda function: ErrorHandler(code, function)
    return ErrorHandler(None, code_or_handler)
