"""``porch routes module:app``: what the app answers, in the order porch tries it.

One line per route: method, path, the handlers that run (guards first), and
the line that made the route, as ``flask routes`` shows its URL map; then one
per Socket.IO event (``SOCKET``, the event's name in the path column). The
order is the chain's, which is the order porch tries them (the first match
answers). Routes the app's module made but never passed to ``server()``
follow, marked, since they answer 404.
"""

from __future__ import annotations

from collections.abc import Sequence

from .app import App, apps_in
from .origin import function_location
from .router import Route
from .unpassed import unpassed_routes

HEADINGS = ("METHOD", "PATH", "HANDLER", "DEFINED AT")


def route_row(route: Route) -> tuple[str, ...]:
    """The columns of one route; a GET route also answers HEAD, so it says so."""
    method = {"GET": "GET, HEAD", None: "ANY"}.get(route.method, route.method or "ANY")
    handlers = " -> ".join(handler_name(step.function) for step in route.handlers)
    where = route.defined_at or function_location(route.handlers[-1].function) or "?"
    path = route.path if route.where is None else f"{route.path}  ({route.where})"
    if not route.csrf:
        path += "  (csrf=False)"
    return method, path, handlers, where


def socket_rows(app: App) -> list[tuple[str, ...]]:
    """One line per Socket.IO event the app handles: ``SOCKET  message  on_message  app.py:9``."""
    if app.sockets is None:
        return []
    rows: list[tuple[str, ...]] = []
    for event, steps in app.sockets.handlers.items():
        handlers = " -> ".join(handler_name(step.function) for step in steps)
        rows.append(("SOCKET", event, handlers, function_location(steps[0].function) or "?"))
    return rows


def handler_name(function: object) -> str:
    return getattr(function, "__qualname__", None) or type(function).__qualname__


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, as ``flask routes`` prints them."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def route_listing(app: App) -> str:
    """The text ``porch routes`` prints for ``app``."""
    rows = [route_row(item) for item in app.chain if isinstance(item, Route)]
    rows += socket_rows(app)
    if not rows:
        lines = ["This app has no routes (only middleware, or nothing): every path answers 404."]
    else:
        lines = table([HEADINGS, *rows])
    module = app.module
    unpassed = unpassed_routes(module, apps_in(module)) if module is not None else []
    if unpassed:
        lines += ["", "Made in the app's module but never passed to server(), so they answer 404:"]
        lines += table([HEADINGS, *map(route_row, unpassed)])
    return "\n".join(lines)
