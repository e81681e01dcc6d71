"""Routes defined but never passed to ``server()``, found and named at start-up.

A route the decorator made and nobody passed answers 404 with no word: porch
keeps server.js's explicit list, so the decorator alone registers nothing.
The app looks through the calling module's globals once, when it is built,
and warns with the variable and the line of each such route.

What was passed is read off the apps the caller names (``Served``: what
``server()`` received), so this module never imports the app: the app calls
it at start-up, and ``porch routes`` through ``porch.app.apps_in``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from .origin import function_location, function_name
from .router import ErrorHandler, Route
from .socket import SocketHandler, SocketLayer
from .step import Step

log = logging.getLogger("porch")


class Served(Protocol):
    """What this module reads of an app: the parts ``server()`` gave it."""

    @property
    def chain(self) -> Sequence[Route | Step]: ...

    @property
    def error_handlers(self) -> Sequence[ErrorHandler]: ...

    @property
    def sockets(self) -> SocketLayer | None: ...


def module_of_caller(depth: int = 2) -> Mapping[str, Any] | None:
    """The globals of the module whose top level called ``server()``, else None.

    Only a call at a module's top level (``app = server(...)``) says "this
    module is the app": a call inside a function (a test, a factory) may pass
    any subset of the module's routes on purpose. porch's own modules
    (``run()`` builds apps too) are never the app's module.
    """
    frame = inspect.currentframe()
    for _ in range(depth):
        if frame is None:
            return None
        frame = frame.f_back
    if frame is None or frame.f_code.co_name != "<module>":
        return None
    module = frame.f_globals.get("__name__", "")
    if module == "porch" or module.startswith("porch."):
        return None
    return frame.f_globals


def parts_in(values: Iterable[Any], depth: int = 0) -> Iterator[Any]:
    """The routes, socket and error handlers among a module's values, and in its lists
    and tuples (``routes = [...]``)."""
    for value in values:
        if isinstance(value, Route | SocketHandler | ErrorHandler):
            yield value
        elif isinstance(value, list | tuple) and depth < 4:
            yield from parts_in(value, depth + 1)


def identity(route: Route) -> tuple[str | None, str, tuple[int, ...]]:
    """What stays the same when ``sub()`` copies a route: method, path and handlers."""
    return route.method, route.path, tuple(id(step.function) for step in route.handlers)


def unpassed_routes(module: Mapping[str, Any], apps: Sequence[Served]) -> list[Route]:
    """Routes of the module that none of ``apps`` (those made in it) received, in
    definition order."""
    passed = {identity(item) for app in apps for item in app.chain if isinstance(item, Route)}
    seen: set[tuple[str | None, str, tuple[int, ...]]] = set()
    unpassed: list[Route] = []
    for route in parts_in(list(module.values())):
        if not isinstance(route, Route):
            continue
        key = identity(route)
        if key not in passed and key not in seen:
            seen.add(key)
            unpassed.append(route)
    return unpassed


def unpassed_handlers(
    module: Mapping[str, Any], apps: Sequence[Served]
) -> list[tuple[str, Any, Any]]:
    """Socket and error handlers of the module that none of ``apps`` received.

    Each as (what it is, its first function, the object), in definition order:
    such a handler never runs, as silently as an unpassed route answers 404.
    """
    passed = {id(handler.step.function) for app in apps for handler in app.error_handlers}
    for app in apps:
        if app.sockets is not None:
            for steps in app.sockets.handlers.values():
                passed.update(id(step.function) for step in steps)
    found: list[tuple[str, Any, Any]] = []
    for part in parts_in(list(module.values())):
        if isinstance(part, SocketHandler):
            functions = [step.function for step in part.steps]
            what = f"socket({part.event!r}) handler"
        elif isinstance(part, ErrorHandler):
            functions = [part.step.function]
            what = f"error({part.code!r}) handler" if part.code else "error() handler"
        else:
            continue
        if all(id(function) not in passed for function in functions) and all(
            part is not other for _, _, other in found
        ):
            found.append((what, functions[0], part))
    return found


def warn_of_unpassed_routes(module: Mapping[str, Any], apps: Sequence[Served]) -> None:
    """At start-up, one warning per route (or socket or error handler) the app's module
    made but gave none of its apps (``apps``: those made in it, this one included)."""
    for route in unpassed_routes(module, apps):
        where = f" (defined at {route.defined_at})" if route.defined_at else ""
        log.warning(
            "The route %s %s%s was never passed to server(), so it answers 404: porch serves "
            "only what server() receives. Add it: server(..., %s).",
            route.method or "ANY",
            route.path,
            where,
            route_variable(module, route) or "the_route",
        )
    for what, function, part in unpassed_handlers(module, apps):
        location = function_location(function)
        log.warning(
            "The %s %s%s was never passed to server(), so it never runs: porch uses only "
            "what server() receives. Add it: server(..., %s).",
            what,
            function_name(function),
            f" (defined at {location})" if location else "",
            route_variable(module, part) or "the_handler",
        )


def route_variable(module: Mapping[str, Any], part: Any) -> str | None:
    """The module-level name that holds the route (or handler), for the message's fix."""
    for name, value in module.items():
        if value is part:
            return name
    return None
