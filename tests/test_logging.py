"""Logging through the standard ``logging`` module: the access line, ``ctx.log``, the LOG level."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from porch import error, get, run
from porch.context import Context


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
        await api.get("/a.txt")
        await api.get("/boom")
        await api.head("/hello")
    lines = [record.getMessage().rsplit(" ", 1)[0] for record in access_lines(caplog)]
    assert lines == ["GET /a.txt 200", "GET /boom 500", "HEAD /hello 200"]


async def test_ctx_log_writes_on_the_porch_app_logger(caplog: pytest.LogCaptureFixture) -> None:
    async with run(hello) as api:
        await api.get("/hello?name=ada")
    mine = [record for record in caplog.records if record.name == "porch.app"]
    assert [(record.levelno, record.getMessage()) for record in mine] == [
        (logging.INFO, "greeting ada")
    ]


@pytest.mark.parametrize("level", ["warning", "error"])
async def test_the_log_option_above_info_silences_access_lines(
    level: str, caplog: pytest.LogCaptureFixture
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
