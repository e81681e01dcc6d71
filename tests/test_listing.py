"""``porch routes``: what an app answers, in the order porch tries it, and where each route
was made (the command itself: tests/test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from porch.cli import load_app
from porch.listing import route_listing

pytestmark = pytest.mark.usefixtures("forget_imports")  # each app.py is a new module


def listed(folder: Path, source: str) -> list[str]:
    """The listing of ``app:app`` written from ``source``, its columns' padding folded."""
    (folder / "app.py").write_text(source)
    return [" ".join(line.split()) for line in route_listing(load_app("app:app")).splitlines()]


ROUTED = """
from porch import get, post, server, sub

def needs_user(ctx):
    return None

@get('/')
def home(ctx):
    return 'home'

@get('/users/:id')
async def user(ctx):
    return {'id': ctx.params['id']}

admin = post('/admin', needs_user, lambda ctx: 'ok')
api = sub('api', post('/items', lambda ctx: 'made', csrf=False))
app = server(home, user, admin, api)

@get('/late')
def late(ctx):
    return 'late'
"""


def test_routes_lists_method_path_handlers_and_where_each_is_defined(
    isolated_environment: Path,
) -> None:
    lines = listed(isolated_environment, ROUTED)
    assert lines == [
        "METHOD PATH HANDLER DEFINED AT",
        "GET, HEAD / home app.py:7",
        "GET, HEAD /users/:id user app.py:11",
        "POST /admin needs_user -> <lambda> app.py:15",
        "POST /items (sub('api')) (csrf=False) <lambda> app.py:16",
        "",
        "Made in the app's module but never passed to server(), so they answer 404:",
        "METHOD PATH HANDLER DEFINED AT",
        "GET, HEAD /late late app.py:19",
    ]


def test_routes_lists_socket_events_after_the_routes(isolated_environment: Path) -> None:
    lines = listed(
        isolated_environment,
        "from porch import get, server, socket\n"
        "home = get('/', lambda ctx: 'home')\n"
        "@socket('message')\n"
        "async def on_message(ctx):\n"
        "    return True\n"
        "app = server(home, on_message)\n",
    )
    assert lines[-2:] == ["GET, HEAD / <lambda> app.py:2", "SOCKET message on_message app.py:3"]


def test_an_app_without_routes_says_so(isolated_environment: Path) -> None:
    lines = listed(isolated_environment, "from porch import server\napp = server()\n")
    assert lines == [
        "This app has no routes (only middleware, or nothing): every path answers 404."
    ]
