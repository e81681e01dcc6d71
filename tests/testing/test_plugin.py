"""porch's pytest plugin: async tests run under plain pytest, and other runners keep theirs.

Each test runs pytest as a user does, in a subprocess, in its own empty folder
(no porch conftest, no porch pytest settings). ``-p no:asyncio`` stands for a
project without pytest-asyncio; anyio's plugin is always there (anyio comes
with porch). The last test installs the wheel of this checkout into a new
virtualenv with pytest alone and runs the README's testing example as pasted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
COUNTER = """
from porch import get, post, run

@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}
"""


def pytest_in(folder: Path, *arguments: str, python: str = sys.executable) -> str:
    """Run pytest in ``folder`` and return its summary output."""
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.stdout + result.stderr


def outcome(output: str) -> str:
    """'1 failed, 2 passed' from pytest's summary line, without the time."""
    summaries = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return re.sub(r" in [\d.]+s.*$", "", summaries[-1].strip("= ")) if summaries else output


def test_async_tests_run_under_plain_pytest(isolated_environment: Path) -> None:
    (isolated_environment / "test_app.py").write_text(
        COUNTER
        + """
async def test_counter():
    async with run(counter) as api:
        assert (await api.get('/')).body == {'views': 1}
        assert (await api.get('/')).body == {'views': 2}

async def test_a_failing_async_test_fails():
    async with run(counter) as api:
        assert (await api.get('/')).body == {'views': 99}

class TestInAClass:
    async def test_method(self, tmp_path):
        assert tmp_path.is_dir()
        assert (await run(counter).get('/')).status == 200

def test_sync():
    with run(counter) as api:
        assert api.get('/').status == 200
"""
    )
    output = pytest_in(isolated_environment, "-p", "no:asyncio")
    assert outcome(output) == "1 failed, 3 passed", output
    assert "{'views': 99}" in output
    assert "not natively supported" not in output


def test_pytest_asyncio_keeps_running_its_tests_in_auto_and_strict_mode(
    isolated_environment: Path,
) -> None:
    """Async fixtures only work when pytest-asyncio runs the test: they prove who ran it."""
    (isolated_environment / "test_app.py").write_text(
        COUNTER
        + """
import asyncio
import pytest
import pytest_asyncio

@pytest_asyncio.fixture
async def loop_of_fixture():
    return asyncio.get_running_loop()

@pytest.mark.asyncio
async def test_marked(loop_of_fixture):
    assert loop_of_fixture is asyncio.get_running_loop()
    assert (await run(counter).get('/')).status == 200

async def test_unmarked():
    assert (await run(counter).get('/')).status == 200
"""
    )
    assert outcome(pytest_in(isolated_environment, "--asyncio-mode=auto")) == "2 passed"
    # strict mode: pytest-asyncio runs the marked test, porch the unmarked one
    assert outcome(pytest_in(isolated_environment, "--asyncio-mode=strict")) == "2 passed"


def test_anyio_keeps_running_its_tests(isolated_environment: Path) -> None:
    (isolated_environment / "test_app.py").write_text(
        COUNTER
        + """
import pytest

@pytest.fixture
def anyio_backend():
    return 'asyncio'

@pytest.fixture
async def answer(anyio_backend):
    return 42

@pytest.mark.anyio
async def test_with_an_async_fixture(answer):
    assert answer == 42
    assert (await run(counter).get('/')).status == 200
"""
    )
    output = pytest_in(isolated_environment, "-p", "no:asyncio")
    assert outcome(output) == "1 passed", output


def readme_blocks() -> list[str]:
    """The README's ```python blocks, in order, as a reader copies them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_readmes_testing_example_passes_in_a_fresh_project_with_only_porch_and_pytest(
    isolated_environment: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    blocks = readme_blocks()
    app, testing = blocks[0], next(block for block in blocks if "async def test_" in block)
    source = tmp_path_factory.mktemp("source")  # a copy: building writes build/ beside it
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "porch", source / "porch", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    environment = tmp_path_factory.mktemp("venv")
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    (wheel,) = wheels.glob("porch-*.whl")
    install = [python, "-m", "pip", "--disable-pip-version-check", "-q", "install", str(wheel)]
    constraints = ["-c", str(ROOT / "requirements" / "lock.txt")]
    subprocess.run([*install, "pytest", *constraints], check=True, capture_output=True, timeout=600)
    installed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    assert "pytest-asyncio" not in installed and "pytest==" in installed

    project = isolated_environment / "fresh"
    project.mkdir()
    (project / "app.py").write_text(app)
    (project / "test_app.py").write_text(testing)
    clean = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST")}
    result = subprocess.run(
        [python, "-m", "pytest", "-q"],
        cwd=project,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert outcome(result.stdout) == "1 passed", result.stdout + result.stderr
