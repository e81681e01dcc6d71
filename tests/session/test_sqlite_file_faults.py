"""Whatever happens to the SQLite file under a running server is a 503 and a log line
naming it, and service resumes once the file is fixed, with no restart: read-only
(at start-up or later), deleted, replaced, not a database, the disk full.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from porch import get, run
from porch.context import Context
from porch.session.stores.sqlite import SQLiteStore

SECRET = "s" * 40
RECOVERY_TIMEOUT = 10.0  # seconds a test polls for a server to notice the file changed


@get("/count")
def count(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/grow")
def grow(ctx: Context) -> str:
    ctx.session["blob"] = os.urandom(16_000).hex()
    return "grown"


def options(store: SQLiteStore) -> dict[str, Any]:
    return {"session": {"store": store}, "security": {"csrf": False}, "secret": SECRET}


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only to this process, even as root (the immutable flag), then writable."""
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    try:
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o644)


def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


async def make_file(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


async def test_a_file_read_only_at_start_up_recovers_once_writable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.db"
    await make_file(path)
    store = SQLiteStore(path)
    with ExitStack() as fixing:
        fixing.enter_context(read_only(path))
        async with run(count, **options(store)) as api:
            with caplog.at_level(logging.ERROR, logger="porch"):
                refused = await api.get("/count")
                assert refused.status == 503
                assert (await api.get("/count")).status == 503  # and stays so meanwhile
            assert "read-only" in errors(caplog) and "Traceback" not in caplog.text
            fixing.close()  # writable again, the server still running
            assert (await api.get("/count")).body == {"views": 1}  # no restart needed
            assert (await api.get("/count")).body == {"views": 2}


async def poll(api: Any, url: str, until: Any) -> Any:
    """GET ``url`` until ``until(response)`` holds; fail after RECOVERY_TIMEOUT seconds."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        response = await api.get(url)
        if until(response):
            return response
        if time.monotonic() > deadline:
            pytest.fail(f"{url} still answers {response.status} {response.body!r}")
        await asyncio.sleep(0.02)


async def test_a_deleted_file_is_noticed_logged_and_reopened_as_new_workers_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.db"
    running = SQLiteStore(path)
    async with run(count, **options(running)) as old_worker:
        assert (await old_worker.get("/count")).body == {"views": 1}
        for file in tmp_path.glob("sessions.db*"):
            file.unlink()
        with caplog.at_level(logging.ERROR, logger="porch"):
            # The old worker's session was in the deleted file: it starts over, rather
            # than counting on in a file that nobody else can see.
            await poll(old_worker, "/count", lambda r: r.body == {"views": 1})
        assert "was deleted" in errors(caplog)
        assert path.exists()
        cookie = {"cookie": f"session={old_worker.cookies.get('session')}"}
        async with run(count, **options(SQLiteStore(path))) as new_worker:
            # one file for both: the new worker reads what the old one wrote since
            assert (await new_worker.get("/count", headers=cookie)).body == {"views": 2}
        assert (await old_worker.get("/count")).body == {"views": 3}


async def test_a_file_replaced_by_one_that_is_not_a_database_is_a_503_until_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.db"
    store = SQLiteStore(path)
    async with run(count, **options(store)) as api:
        await api.get("/count")
        junk = tmp_path / "junk"
        junk.write_bytes(b"not a database, " * 512)
        os.replace(junk, path)
        with caplog.at_level(logging.ERROR, logger="porch"):
            refused = await poll(api, "/count", lambda r: r.status != 200)
        assert refused.status == 503
        assert "was replaced" in errors(caplog) and "not a SQLite database" in errors(caplog)
        assert "Traceback" not in caplog.text
        path.unlink()  # moved aside, as the log line says
        assert (await poll(api, "/count", lambda r: r.status == 200)).body == {"views": 1}


async def test_a_full_disk_is_a_503_and_the_next_request_tries_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.db"
    store = SQLiteStore(path)
    async with run(count, grow, **options(store)) as api:
        await api.get("/count")
        # A real SQLITE_FULL: cap the file at its current size on the server's connection
        # (a full disk cannot be made here without privileges).
        here = store._here
        assert here is not None
        (pages,) = here.execute("PRAGMA page_count").fetchone()
        here.execute(f"PRAGMA max_page_count = {pages}")
        with caplog.at_level(logging.ERROR, logger="porch"):
            refused = await api.get("/grow")
        assert refused.status == 503
        assert "disk" in errors(caplog) and "full" in errors(caplog)
        # The connection was dropped and opened again; room again ("disk freed").
        assert (await api.get("/grow")).status == 200
        assert (await api.get("/count")).body == {"views": 2}


async def test_a_damaged_file_is_a_503_naming_it_never_a_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite raises damage as DatabaseError itself, not OperationalError: a 503 too."""
    path = tmp_path / "sessions.db"
    store = SQLiteStore(path)
    async with run(count, **options(store)) as api:
        await api.get("/count")
        raw = sqlite3.connect(path, isolation_level=None)
        (version,) = raw.execute("PRAGMA schema_version").fetchone()
        raw.execute("PRAGMA writable_schema = ON")
        raw.execute("UPDATE sqlite_master SET sql = 'garbage' WHERE name = 'sessions'")
        raw.execute(f"PRAGMA schema_version = {version + 1}")  # every connection rereads it
        raw.close()
        with caplog.at_level(logging.ERROR, logger="porch"):
            refused = await api.get("/count")
        assert refused.status == 503
        assert "damaged" in errors(caplog) and "Traceback" not in caplog.text
        for file in tmp_path.glob("sessions.db*"):
            file.unlink()  # moved aside, as the log line says
        assert (await poll(api, "/count", lambda r: r.status == 200)).body == {"views": 1}
