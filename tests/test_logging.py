"""Logging through the standard ``logging`` module: the access line, ``ctx.log``, the LOG level."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx
import pytest

from porch import error, get, run
from porch.context import Context
from porch.logs import TurnBatchingHandler, log_access, only_handler

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

if TYPE_CHECKING:
    from tests.serve_process import serving
else:  # pytest puts tests/ on sys.path
    from serve_process import serving


@get("/hello")
def hello(ctx: Context) -> str:
    ctx.log.info("greeting %s", ctx.query.get("name", "nobody"))
    return "hello"


@get("/boom")
def boom(ctx: Context) -> str:
    raise RuntimeError("boom")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "porch.access"]


async def test_each_request_logs_one_access_line_at_info(caplog: pytest.LogCaptureFixture) -> None:
    async with run(hello, security={"csrf": False}) as api:
        await api.get("/hello?name=ada")
        await api.post("/nowhere", json={})
    first, second = access_lines(caplog)
    assert first.levelno == logging.INFO
    method, url, status, took = first.getMessage().split(" ")
    assert (method, url, status) == ("GET", "/hello?name=ada", "200")
    assert took.endswith("ms") and float(took.removesuffix("ms")) >= 0
    assert second.getMessage().startswith("POST /nowhere 404 ")


async def test_the_access_line_carries_its_fields_for_structured_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with run(hello) as api:
        await api.get("/hello")
    (record,) = access_lines(caplog)
    assert (record.method, record.url, record.status) == ("GET", "/hello", 200)  # type: ignore[attr-defined]
    assert isinstance(record.ms, float)  # type: ignore[attr-defined]


async def test_static_files_failures_and_head_requests_are_logged_too(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (isolated_environment / "public").mkdir()
    (isolated_environment / "public" / "a.txt").write_text("a")
    async with run(hello, boom, error("nothing", lambda ctx: None)) as api:
        await api.get("/boom")
        await api.head("/hello")
        # Last: a file response closes its file on a thread after the client has the
        # body, so its line may come after the next request's on a busy machine.
        await api.get("/a.txt")
    lines = [record.getMessage().rsplit(" ", 1)[0] for record in access_lines(caplog)]
    assert lines == ["GET /boom 500", "HEAD /hello 200", "GET /a.txt 200"]


async def test_ctx_log_writes_on_the_porch_app_logger(caplog: pytest.LogCaptureFixture) -> None:
    async with run(hello) as api:
        await api.get("/hello?name=ada")
    mine = [record for record in caplog.records if record.name == "porch.app"]
    assert [(record.levelno, record.getMessage()) for record in mine] == [
        (logging.INFO, "greeting ada")
    ]


@pytest.mark.parametrize("level", ["warning", "error"])
async def test_the_log_option_above_info_silences_access_lines(
    level: Literal["warning", "error"], caplog: pytest.LogCaptureFixture
) -> None:
    async with run(hello, log=level) as api:
        await api.get("/hello")
    assert access_lines(caplog) == []
    assert not [record for record in caplog.records if record.name == "porch.app"]


async def test_the_LOG_variable_beats_the_argument(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG", "warning")
    async with run(hello, log="debug") as api:
        await api.get("/hello")
    assert access_lines(caplog) == []
    monkeypatch.setenv("LOG", "info")
    async with run(hello, log="warning") as api:
        await api.get("/hello")
    assert len(access_lines(caplog)) == 1


async def test_errors_are_still_logged_at_the_error_level(caplog: pytest.LogCaptureFixture) -> None:
    async with run(boom, log="error") as api:
        assert (await api.get("/boom")).status == 500
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and "RuntimeError: boom" in errors[0].getMessage()


# --- porch's own handler (porch/logs.py), for programs that configure no logging ---


def batching_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    """A porch-like pair: ``name`` holds porch's handler (on a StringIO), ``name.access`` logs."""
    parent = logging.getLogger(name)
    parent.setLevel(logging.INFO)
    parent.propagate = False  # as if the root logger had no handler (pytest gives it one)
    parent.handlers.clear()  # a test run again (once per server) starts from one handler
    handler = TurnBatchingHandler()
    stream = io.StringIO()
    handler.setStream(stream)
    parent.addHandler(handler)
    return logging.getLogger(f"{name}.access"), stream


async def test_lines_of_one_loop_turn_are_written_together_when_it_ends() -> None:
    access, stream = batching_logger("batching-turn")
    access.info("one")
    access.info("two")
    assert stream.getvalue() == ""  # still this turn
    await asyncio.sleep(0)  # the turn ends
    assert stream.getvalue() == "INFO:batching-turn.access: one\nINFO:batching-turn.access: two\n"


async def test_a_warning_is_written_at_once_after_the_lines_before_it() -> None:
    access, stream = batching_logger("batching-warning")
    access.info("before")
    access.warning("trouble")
    assert stream.getvalue().splitlines() == [
        "INFO:batching-warning.access: before",
        "WARNING:batching-warning.access: trouble",
    ]


def test_outside_an_event_loop_each_line_is_written_at_once() -> None:
    access, stream = batching_logger("batching-sync")
    access.info("from a thread or a script")
    assert stream.getvalue() == "INFO:batching-sync.access: from a thread or a script\n"


async def test_the_direct_access_line_is_the_text_the_record_would_give() -> None:
    access, stream = batching_logger("batching-direct")
    handler = only_handler(access)
    assert handler is not None and access.parent is not None
    assert handler is access.parent.handlers[0]
    log_access(access, "GET", "/cats?page=2", 200, 3.14159)
    await asyncio.sleep(0)
    direct = stream.getvalue()
    stream.truncate(0)
    stream.seek(0)
    handler.addFilter(lambda record: True)  # a filter must see the record: no shortcut
    assert only_handler(access) is None
    log_access(access, "GET", "/cats?page=2", 200, 3.14159)
    await asyncio.sleep(0)
    assert (
        direct == stream.getvalue() == "INFO:batching-direct.access: GET /cats?page=2 200 3.1ms\n"
    )


def test_any_other_handler_or_filter_on_the_way_gets_the_record() -> None:
    access, _ = batching_logger("batching-others")
    parent = access.parent
    assert parent is not None and only_handler(access) is not None
    access.addFilter(lambda record: True)
    assert only_handler(access) is None
    access.filters.clear()
    parent.propagate = True  # the root logger has pytest's handler
    assert only_handler(access) is None
    parent.propagate = False
    parent.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    assert only_handler(access) is None


APP = "from porch import server, get\napp = server(get('/', lambda ctx: {'ok': True}))\n"


def lines_of(log: Path, text: str, count: int) -> list[str]:
    """The log's lines holding ``text``, once ``count`` of them are there or 10 s have passed."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log.read_text().splitlines() if text in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_porch_serve_writes_access_lines_while_it_runs_and_flushes_them_at_exit(
    isolated_environment: Path,
) -> None:
    (isolated_environment / "app.py").write_text(APP)
    log = isolated_environment / "serve.log"
    with serving("app:app", env={"LOG": "info"}, log_to=log) as url:
        assert httpx.get(url + "/?first").status_code == 200
        lines_of(log, "GET /?first 200", 1)  # written when the loop turn ends, not at exit
        assert "INFO:porch.access: GET /?first 200 " in log.read_text()
        for _ in range(20):
            httpx.get(url + "/?more")
    lines = [line for line in log.read_text().splitlines() if "GET /?more 200" in line]
    assert len(lines) == 20
    assert all(
        re.fullmatch(r"INFO:porch\.access: GET /\?more 200 \d+\.\dms", line) for line in lines
    )


def test_uvicorn_without_its_access_log_means_no_access_lines_from_porch_either(
    isolated_environment: Path,
) -> None:
    log = isolated_environment / "uvicorn.log"
    (isolated_environment / "warns.py").write_text(
        "from porch import server, get\n"
        "def warn(ctx):\n"
        "    ctx.log.warning('served %s', ctx.url)\n"
        "    return {'ok': True}\n"
        "app = server(get('/', warn))\n"
    )
    arguments = ("warns:app", "--no-access-log")
    with serving(*arguments, program=("uvicorn",), env={"LOG": "info"}, log_to=log) as url:
        for _ in range(5):
            assert httpx.get(url + "/?quiet").status_code == 200
    text = log.read_text()  # complete: the server has exited, and flushed its log at exit
    assert text.count("WARNING:porch.app: served /?quiet") == 5  # porch's log works here
    assert "porch.access" not in text and '"GET /?quiet' not in text


def test_uvicorn_with_its_access_log_still_gets_porchs_line(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(APP)
    log = isolated_environment / "uvicorn.log"
    with serving("app:app", program=("uvicorn",), env={"LOG": "info"}, log_to=log) as url:
        assert httpx.get(url + "/?loud").status_code == 200
        porch_lines = lines_of(log, "INFO:porch.access: GET /?loud 200", 1)
        uvicorn_lines = lines_of(log, '"GET /?loud HTTP/1.1" 200', 1)
    assert len(porch_lines) == 1 and len(uvicorn_lines) == 1


def test_porch_serve_with_workers_keeps_porchs_access_line(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(APP)
    log = isolated_environment / "serve.log"
    env = {"LOG": "info", "SESSION_STORE": "sqlite:///sessions.db"}
    with serving("app:app", "--workers", "2", env=env, log_to=log) as url:
        for _ in range(6):
            assert httpx.get(url + "/?worker").status_code == 200
        lines = lines_of(log, "INFO:porch.access: GET /?worker 200", 6)
    assert len(lines) == 6


def test_a_flush_left_pending_on_a_closed_loop_does_not_hold_back_later_lines() -> None:
    access, stream = batching_logger("batching-closed")
    loop = asyncio.new_event_loop()

    def log_then_stop() -> None:
        access.info("first loop")
        loop.stop()  # the loop ends with this batch: the flush it scheduled never runs

    loop.call_soon(log_then_stop)
    loop.run_forever()
    loop.close()
    assert stream.getvalue() == ""

    async def log_again() -> None:
        access.info("second loop")

    asyncio.run(log_again())  # its own flush writes both lines when its turn ends
    assert stream.getvalue().splitlines() == [
        "INFO:batching-closed.access: first loop",
        "INFO:batching-closed.access: second loop",
    ]
