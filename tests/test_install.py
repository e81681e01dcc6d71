"""A plain ``pip install porch``: the built wheel, no extras, in a new virtualenv.

Every other test runs in the checkout's ``.venv``, which has the dev extras
(pytest, redis, playwright...). A user who installs porch alone has none of
them, so this test builds the wheel, installs it with nothing else (pinned by
the committed lock, as CI installs), and serves the README counter from it,
on the memory and the SQLite store, through ``porch serve``.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.serve_process import serving
else:  # pytest puts tests/ on sys.path
    from serve_process import serving

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
COUNTER = """\
from porch import server, get

@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}

app = server(counter)
"""


def pip(python: Path, *arguments: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *arguments],
        check=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The Python of a new virtualenv holding porch's wheel and its core dependencies only."""
    folder = tmp_path_factory.mktemp("plain-install")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
         "--no-deps", "-w", str(folder / "dist"), str(ROOT)],
        check=True, timeout=600,
    )  # fmt: skip
    (wheel,) = (folder / "dist").glob("porch-*.whl")
    venv.create(folder / "venv", with_pip=True)
    python = folder / "venv" / "bin" / "python"
    pip(python, str(wheel), "-c", str(LOCK))
    yield python


def count_three_times(url: str) -> list[object]:
    with httpx.Client(base_url=url) as client:
        return [client.get("/").json() for _ in range(3)]


def test_the_wheel_imports_without_any_test_or_optional_package(plain_python: Path) -> None:
    script = (
        "import importlib.util, sys, porch\n"
        "from porch import server, get, run\n"
        "absent = ['pytest', 'hypothesis', 'playwright', 'redis', 'cryptography']\n"
        "print([name for name in absent if importlib.util.find_spec(name)])\n"
        "print(sorted(name for name in ('pytest', 'httpx') if name in sys.modules))\n"
    )
    result = subprocess.run(
        [str(plain_python), "-c", script], capture_output=True, text=True, check=True
    )
    installed_extras, imported = result.stdout.splitlines()
    assert installed_extras == "[]"
    assert imported == "['httpx']"  # only because the script itself asked for porch.run


def test_import_porch_alone_loads_neither_pytest_nor_httpx(plain_python: Path) -> None:
    script = "import sys, porch; print(sorted(n for n in ('pytest', 'httpx') if n in sys.modules))"
    result = subprocess.run(
        [str(plain_python), "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("store", ["memory://", "sqlite:///sessions.db"])
def test_the_wheel_serves_the_counter(plain_python: Path, tmp_path: Path, store: str) -> None:
    (tmp_path / "app.py").write_text(COUNTER)
    with serving("app:app", python=str(plain_python), env={"SESSION_STORE": store}) as url:
        assert count_three_times(url) == [{"views": 1}, {"views": 2}, {"views": 3}]


def test_a_redis_url_without_the_extra_names_the_command_that_installs_it(
    plain_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(COUNTER)
    result = subprocess.run(
        [str(plain_python), "-m", "porch", "serve", "app:app", "--port", "1"],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "pip install 'porch[redis]'" in result.stderr
