"""Routes, subdomains and error handlers: ``get('/users/:id', fn)``, ``sub('api', ...)``,
``error('store', fn)``.

A route is a middleware that only runs for its method and path; a request runs
at most one route, the first that matches (server.js's "routes are final").
``sub()`` narrows routes and middleware further, to the hosts of one subdomain
(porch/subdomain.py). Each callable runs as a ``Step`` (porch/step.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, overload

from .origin import caller_location
from .pattern import compile_path
from .security.csrf import SAFE_METHODS
from .step import Handler, Step
from .subdomain import Subdomain

if TYPE_CHECKING:
    from .context import Context

Decorator: TypeAlias = Callable[[Handler], "Route"]


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
    if ctx.method in SAFE_METHODS:
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
