"""A step: one callable of a chain (middleware, a route's handler, an error or socket
handler), with how it runs decided once, when the app is built.

An ``async`` function runs on the event loop; a sync one runs there only when
porch can prove it never waits (porch/inline.py), else in a worker thread, so
a blocking call cannot stall other requests. Its result becomes a response
where it ran (``Step.respond``); a value porch cannot send is an error naming
the user's function, not porch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio.to_thread
from starlette.responses import Response

from .inline import runs_inline
from .origin import unsupported_reply
from .reply import to_response

if TYPE_CHECKING:
    from .context import Context
    from .protocols import RouteLike
    from .subdomain import Subdomain

Handler: TypeAlias = Callable[["Context"], Any]


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
        self, ctx: Context, route: RouteLike | None = None, *, role: str = "middleware"
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


def run_and_respond(function: Handler, ctx: Context, route: RouteLike | None, role: str) -> Any:
    """In a worker thread: the result as a response (an awaitable is left to the loop)."""
    result = function(ctx)
    if result is None or inspect.isawaitable(result):
        return result
    return response_of(result, ctx, function, route, role=role)


def response_of(
    result: Any,
    ctx: Context,
    function: Any,
    route: RouteLike | None = None,
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
