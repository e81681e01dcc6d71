"""porch's pytest plugin: ``async def`` tests run with no configuration.

``run()`` is used as ``async with run(app) as api`` inside an ``async def``
test, and plain pytest cannot run one ("async def functions are not natively
supported"). porch registers this plugin (the ``pytest11`` entry point), so a
new project with only porch and pytest installed runs such a test as written:
each test function runs to completion on a fresh asyncio event loop, as
``asyncio.run`` does.

It stands aside for every test another plugin runs, so a project that set up
pytest-asyncio or anyio keeps exactly what it had:

- a test pytest-asyncio claims (marked ``asyncio``, as every async test is in
  its ``asyncio_mode = "auto"``), and any test at all when pytest-asyncio runs
  in auto mode;
- a test that anyio runs (marked ``anyio``, or given an ``anyio_backend``);
- a test marked ``trio``.

It runs the test function only: an ``async`` fixture still needs
pytest-asyncio or anyio.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

OTHER_RUNNERS = ("asyncio", "anyio", "trio")


def belongs_to_another_runner(item: pytest.Function) -> bool:
    """Whether pytest-asyncio, anyio or trio's plugin runs this test."""
    if any(item.get_closest_marker(name) is not None for name in OTHER_RUNNERS):
        return True
    if "anyio_backend" in item.funcargs:
        return True
    manager = item.config.pluginmanager
    if manager.hasplugin("asyncio"):  # pytest-asyncio, in auto mode, takes every async test
        mode = item.config.getoption("asyncio_mode", None) or item.config.getini("asyncio_mode")
        return str(mode) == "auto"
    return False


@pytest.hookimpl
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that no other plugin runs; leave every other test alone."""
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test) or belongs_to_another_runner(pyfuncitem):
        return None
    wanted = inspect.signature(test).parameters  # the fixtures it asked for, by name
    arguments = {name: value for name, value in pyfuncitem.funcargs.items() if name in wanted}
    asyncio.run(test(**arguments))
    return True
