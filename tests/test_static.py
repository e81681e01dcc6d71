"""The public folder (porch/static.py): a path that names no file is remembered briefly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from porch import get, run, static
from porch.context import Context
from porch.static import PublicFolder

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers


@get("/api/users")
def users(ctx: Context) -> dict[str, list[str]]:
    return {"users": ["ada"]}


def scope(path: str) -> dict[str, object]:
    return {"type": "http", "method": "GET", "path": path, "headers": []}


async def test_a_route_beside_a_public_folder_is_answered_by_the_route(
    isolated_environment: Path,
) -> None:
    (isolated_environment / "public").mkdir()
    (isolated_environment / "public" / "app.css").write_text("body {}")
    serving = run(users)
    async with serving as api:
        for _ in range(3):  # the first asks the folder; the next two use its remembered answer
            assert (await api.get("/api/users")).body == {"users": ["ada"]}
        assert (await api.get("/app.css")).body == "body {}"
        folder = serving.app.static
        assert folder is not None and list(folder.misses) == ["/api/users"]


async def test_a_file_added_while_serving_is_served_once_the_miss_is_forgotten(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(static, "MISS_SECONDS", 0.2)
    public = isolated_environment / "public"
    public.mkdir()
    async with run(users) as api:
        assert (await api.get("/new.txt")).status == 404
        (public / "new.txt").write_text("fresh")
        assert (await api.get("/new.txt")).status == 404  # the miss is still remembered
        await asyncio.sleep(0.25)
        assert (await api.get("/new.txt")).body == "fresh"


async def test_a_removed_file_is_gone_at_once(isolated_environment: Path) -> None:
    public = isolated_environment / "public"
    public.mkdir()
    (public / "old.txt").write_text("stale")
    async with run(users) as api:
        assert (await api.get("/old.txt")).body == "stale"
        (public / "old.txt").unlink()
        assert (await api.get("/old.txt")).status == 404


def test_the_remembered_misses_are_bounded_oldest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(static, "MISSES", 100)
    folder = PublicFolder(str(tmp_path))
    for number in range(1_000):
        assert folder.response(scope(f"/missing/{number}")) is None
    assert len(folder.misses) == 100
    assert next(iter(folder.misses)) == "/missing/900"  # the oldest were forgotten


def test_a_path_outside_the_folder_is_never_served(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    (tmp_path / "secret.txt").write_text("not for the web")
    folder = PublicFolder(str(tmp_path / "public"))
    for escape in ("/../secret.txt", "/a/../../secret.txt"):
        assert folder.response(scope(escape)) is None
