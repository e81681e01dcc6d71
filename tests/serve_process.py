"""`python -m porch serve ...` as a real subprocess, for tests of what users run from the shell."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(
    url: str, process: subprocess.Popen[bytes], log: Path, *, timeout: float = START_TIMEOUT
) -> None:
    """Poll until the server answers any HTTP request; fail with its log if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"{url} exited early ({process.returncode}):\n{log.read_text()}")
        try:
            httpx.get(url + "/__ready__", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer within {timeout} s:\n{log.read_text()}")
            time.sleep(0.05)


@contextmanager
def serving(
    *arguments: str,
    env: Mapping[str, str] | None = None,
    log_to: Path | None = None,
    program: Sequence[str] = ("porch", "serve"),
    python: str = sys.executable,
) -> Iterator[str]:
    """Start `porch serve ...` on a free port, wait until it answers; stop it by its PID.

    ``program`` is the module to run and its first arguments: ``("uvicorn",)``
    serves the app the way a user who does not go through porch's CLI would.

    Its output goes to a file, not a pipe: nobody reads a pipe while the test
    runs, and a full one (an access line per request) would stall the server.
    ``log_to`` names that file, for a test that reads it; else it is temporary.
    ``python`` is the interpreter to run it with (another virtualenv's, say).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="porch-serve-") as folder:
        log = log_to or Path(folder) / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [python, "-m", *program, *arguments, "--host", "127.0.0.1",
                 "--port", str(port)],
                stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            )  # fmt: skip
            try:
                wait_until_answering(url, process, log)
                yield url
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
