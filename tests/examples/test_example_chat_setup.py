"""examples/chat when its browser client cannot be fetched: one line saying what to run,
and no traceback, however the example is started."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.examples.examples_harness import EXAMPLES
else:
    from examples_harness import EXAMPLES

STARTS = [["app.py"], ["-m", "porch", "serve", "app:app", "--port", "1"]]


@pytest.fixture
def chat_without_client(tmp_path: Path) -> Path:
    """A copy of the example as a fresh clone has it: no public/socket.io.min.js yet."""
    copy = tmp_path / "chat"
    shutil.copytree(EXAMPLES / "chat", copy, ignore=shutil.ignore_patterns("socket.io*"))
    return copy


def shell_with(tmp_path: Path, npm: str | None) -> dict[str, str]:
    """A PATH holding what setup needs (bash, dirname, and npm when given), nothing else."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "dirname", "tail", "mktemp", "rm"):
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    if npm is not None:
        (folder / "npm").write_text(npm)
        (folder / "npm").chmod(0o755)
    return {**os.environ, "PATH": str(folder)}


def start(
    folder: Path, arguments: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("arguments", STARTS, ids=["python app.py", "porch serve"])
def test_without_npm_the_chat_says_what_to_run_in_one_line(
    chat_without_client: Path, tmp_path: Path, arguments: list[str]
) -> None:
    result = start(chat_without_client, arguments, shell_with(tmp_path, npm=None))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "examples/chat: npm is needed once, to fetch the socket.io browser client "
        "(socket.io-client@4.8.4); install Node.js and npm (apt-get install npm), then run: "
        "examples/chat/setup"
    ]


@pytest.mark.parametrize("arguments", STARTS, ids=["python app.py", "porch serve"])
def test_when_npm_cannot_fetch_the_client_the_chat_says_so_in_one_line(
    chat_without_client: Path, tmp_path: Path, arguments: list[str]
) -> None:
    offline = (
        "#!/bin/bash\necho 'npm error' >&2\necho 'npm error network request failed' >&2\nexit 1\n"
    )
    result = start(chat_without_client, arguments, shell_with(tmp_path, npm=offline))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "examples/chat: npm could not fetch socket.io-client@4.8.4 (npm error network request "
        "failed); once the npm registry is reachable, run: examples/chat/setup"
    ]
