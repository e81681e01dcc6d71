"""Where routes and handlers come from, so porch's messages can point at the user's code.

A handler that returns something porch cannot send would otherwise leave the
user to search (the traceback runs through porch and never names the
handler); ``porch routes`` shows each route with the line that made it. The
router and its steps use these, so they name a route only by ``RouteLike``;
the routes defined and never passed to ``server()`` are ``porch.unpassed``'s.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .protocols import RouteLike

log = logging.getLogger("porch")


def caller_location(depth: int = 2) -> str | None:
    """``'app.py:12'``: the line ``depth`` frames above this one (the user's call of ``get``).

    None when the interpreter keeps no frames (``inspect.currentframe`` may return None).
    """
    frame = inspect.currentframe()
    for _ in range(depth):
        if frame is None:
            return None
        frame = frame.f_back
    if frame is None:
        return None
    return f"{shown_path(frame.f_code.co_filename)}:{frame.f_lineno}"


def shown_path(filename: str) -> str:
    """A file name as the user reads it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith("..") else relative


def function_name(function: Any) -> str:
    """``'app.user'``: module and qualified name, or the type of a callable object."""
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    module = getattr(function, "__module__", None) or type(function).__module__
    return f"{module}.{name}" if module else name


def function_location(function: Any) -> str | None:
    """``'app.py:12'``: where a function is defined, when Python knows."""
    code = getattr(inspect.unwrap(function), "__code__", None)
    if code is None:
        return None
    return f"{shown_path(code.co_filename)}:{code.co_firstlineno}"


def describe(function: Any, route: RouteLike | None = None, *, role: str = "middleware") -> str:
    """``'the handler app.user (app.py:12) of GET /users/:id'``, for error messages.

    ``role`` names a function that is not a route's handler (``'error handler'``).
    """
    where = function_location(function)
    at = f" ({where})" if where else ""
    if route is None:
        return f"the {role} {function_name(function)}{at}"
    return f"the handler {function_name(function)}{at} of {route.method or 'ANY'} {route.path}"


def unsupported_reply(
    exc: TypeError, function: Any, route: RouteLike | None = None, *, role: str = "middleware"
) -> TypeError:
    """The TypeError of a return value porch cannot send, restated to name the handler."""
    named = describe(function, route, role=role)
    return TypeError(f"{named} returned a value porch cannot send: {exc}")
