"""Routes (and socket and error handlers) a module made but never passed to ``server()``:
named at start-up, with the line that made each and the fix."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import httpx
import pytest

from porch import error, get, run, server, sub
from porch.app import apps_in
from porch.unpassed import unpassed_handlers, unpassed_routes

if TYPE_CHECKING:
    from tests.serve_process import serving
else:  # pytest puts tests/ on sys.path
    from serve_process import serving


def test_what_no_app_of_the_module_received_is_unpassed_in_definition_order() -> None:
    """``unpassed_routes`` compares with the apps it is given (those the module made)."""
    home, about, late = get("/", str), get("/about", str), get("/late", str)
    module = {"home": home, "about": about, "nested": [[late]], "count": 3}
    assert unpassed_routes(module, []) == [home, about, late]
    app = server(home, sub("api", late))  # sub() copies a route: still the same one
    assert unpassed_routes(module, [app]) == [about]
    assert apps_in({**module, "app": app}) == [app]
    on_error = error(str)
    assert unpassed_handlers({"on_error": on_error}, []) == [("error() handler", str, on_error)]
    assert unpassed_handlers({"on_error": on_error}, [server(on_error)]) == []


FORGETFUL = """\
from porch import get, post, server

@get('/')
def home(ctx):
    return 'home'

@get('/about')                      # defined, never passed: the Flask habit
def about(ctx):
    return 'about'

api = [post('/api/items', lambda ctx: 'made', csrf=False)]

app = server(home)

@get('/late')                       # after server(), as Flask users write @app.route
def late(ctx):
    return 'late'
"""


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def forgetful(isolated_environment: Path) -> Iterator[ModuleType]:
    (isolated_environment / "forgetful.py").write_text(FORGETFUL)
    yield import_file(isolated_environment / "forgetful.py")
    sys.modules.pop("forgetful", None)


async def test_start_up_warns_of_each_route_never_passed_to_server(
    forgetful: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(forgetful.app) as api:
        assert (await api.get("/about")).status == 404
        assert (await api.get("/")).text == "home"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    unpassed = [message for message in warnings if "never passed to server()" in message]
    assert unpassed == [
        "The route GET /about (defined at forgetful.py:7) was never passed to server(), so it "
        "answers 404: porch serves only what server() receives. Add it: server(..., about).",
        "The route POST /api/items (defined at forgetful.py:11) was never passed to server(), "
        "so it answers 404: porch serves only what server() receives. Add it: server(..., "
        "the_route).",
        "The route GET /late (defined at forgetful.py:15) was never passed to server(), so it "
        "answers 404: porch serves only what server() receives. Add it: server(..., late).",
    ]


def test_porch_serve_warns_of_routes_never_passed(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(FORGETFUL)
    log = isolated_environment / "serve.log"
    with serving("app:app", log_to=log) as url:
        assert httpx.get(url + "/about").status_code == 404
    text = log.read_text()
    assert "The route GET /about (defined at app.py:7) was never passed to server()" in text
    assert "The route GET /late (defined at app.py:15)" in text
    assert "GET / " not in text.split("never passed")[0]


PASSED_EVERY_WAY = """\
from porch import get, server, sub

@get('/')
def home(ctx):
    return 'home'

@get('/admin')
def admin(ctx):
    return 'admin'

@get('/v1')
def v1(ctx):
    return 'v1'

routes = [get('/a', lambda ctx: 'a'), [get('/b', lambda ctx: 'b')]]
site = server(home, routes, sub('api', v1))
back_office = server(admin)                # a second app of the same module
"""


async def test_no_warning_for_routes_passed_in_lists_through_sub_or_to_another_app(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (isolated_environment / "passed.py").write_text(PASSED_EVERY_WAY)
    module = import_file(isolated_environment / "passed.py")
    try:
        async with run(module.site) as api:
            assert (await api.get("/b")).text == "b"
    finally:
        sys.modules.pop("passed", None)
    assert "never passed" not in caplog.text


async def test_apps_built_inside_functions_do_not_judge_their_module(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A test or a factory may pass a subset of the module's routes on purpose."""
    other = get("/other", lambda ctx: "other")
    async with run(sub("api", get("/", lambda ctx: "api")), other) as api:
        assert (await api.get("/other")).text == "other"
    assert "never passed" not in caplog.text


HANDLERS = """\
from porch import error, get, server, socket

@socket('connect')
async def arrive(ctx):
    return None

@socket('message')                  # never passed: it would never run
async def on_message(ctx):
    return True

def sorry(ctx):
    return 'the store is down'

on_store = error('store', sorry)    # never passed either
app = server(get('/', lambda ctx: 'home'), arrive, error(lambda ctx: 'oops'))
"""


async def test_socket_and_error_handlers_never_passed_are_warned_of_too(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (isolated_environment / "handlers.py").write_text(HANDLERS)
    module = import_file(isolated_environment / "handlers.py")
    try:
        async with run(module.app) as api:
            assert (await api.get("/")).text == "home"
    finally:
        sys.modules.pop("handlers", None)
    unpassed = [r.getMessage() for r in caplog.records if "never passed" in r.getMessage()]
    assert unpassed == [
        "The socket('message') handler handlers.on_message (defined at handlers.py:7) was "
        "never passed to server(), so it never runs: porch uses only what server() receives. "
        "Add it: server(..., on_message).",
        "The error('store') handler handlers.sorry (defined at handlers.py:11) was never "
        "passed to server(), so it never runs: porch uses only what server() receives. "
        "Add it: server(..., on_store).",
    ]
