"""Routes and error handlers: ``get('/users/:id', fn)``, ``error('store', fn)``.

A route is a middleware that only runs for its method and path; a request runs
at most one route, the first that matches (server.js's "routes are final").
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import anyio.to_thread

if TYPE_CHECKING:
    from .context import Context

Handler: TypeAlias = Callable[["Context"], Any]
Decorator: TypeAlias = Callable[[Handler], "Route"]

# ':name' (server.js) and '{name}' (Starlette) both name a parameter; '*' matches the rest.
PARAM = re.compile(r":(\w+)|\{(\w+)\}|(\*)")


class Step:
    """One callable of a chain, sync or async, with its kind decided once, not per request."""

    __slots__ = ("function", "is_async")

    def __init__(self, function: Handler) -> None:
        if not callable(function):
            raise TypeError(
                f"porch middleware must be callable as fn(ctx); got {function!r} "
                f"({type(function).__name__})."
            )
        self.function = function
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - async callable objects
        )

    async def __call__(self, ctx: Context) -> Any:
        """Run it; a sync function runs in a worker thread so it cannot stall other requests."""
        if self.is_async:
            return await self.function(ctx)
        result = await anyio.to_thread.run_sync(self.function, ctx)
        if inspect.isawaitable(result):
            result = await result
        return result


def compile_path(path: str) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """A regex for a path with parameters, or None for a plain path (matched by equality)."""
    if not path.startswith("/") and path != "*":
        raise ValueError(f"a route path must start with '/' (got {path!r}), e.g. '/users/:id'.")
    names: list[str] = []
    pattern = ""
    position = 0
    for match in PARAM.finditer(path):
        pattern += re.escape(path[position : match.start()])
        if match.group(3):
            names.append("*")
            pattern += "(.*)"
        else:
            names.append(match.group(1) or match.group(2))
            pattern += "([^/]+)"
        position = match.end()
    if not names:
        return None, ()
    pattern += re.escape(path[position:])
    return re.compile(f"^{pattern.rstrip('/')}/?$"), tuple(names)


class Route:
    """A method, a path and the handlers that run, in order, when both match."""

    __slots__ = ("handlers", "method", "names", "path", "plain", "regex")

    def __init__(self, method: str | None, path: str, handlers: Iterable[Handler]) -> None:
        self.method = method
        self.path = path
        self.handlers = tuple(Step(handler) for handler in handlers)
        self.regex, self.names = compile_path(path)
        self.plain = path.rstrip("/") or "/"

    def __repr__(self) -> str:
        return f"Route({self.method or '*'} {self.path})"

    def matches_method(self, method: str) -> bool:
        return (
            self.method is None
            or self.method == method
            or (method == "HEAD" and self.method == "GET")
        )

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route answers the request, else None."""
        if not self.matches_method(method):
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
    def __call__(self, path: str) -> Decorator: ...
    @overload
    def __call__(self, path: str, *handlers: Handler) -> Route: ...
    def __call__(self, path: str, *handlers: Handler) -> Route | Decorator:
        method = self.method
        if handlers:
            return Route(method, path, handlers)

        def decorate(handler: Handler) -> Route:
            return Route(method, path, (handler,))

        return decorate


get = RouteMaker("GET")
post = RouteMaker("POST")
put = RouteMaker("PUT")
patch = RouteMaker("PATCH")
delete = RouteMaker("DELETE")
head = RouteMaker("HEAD")
options = RouteMaker("OPTIONS")


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
