"""How an app is started: under uvicorn, under Granian, or on its own server.

Every server listens on 127.0.0.1 on a port of its own with the same number of
worker processes, writes no access line (wrk's requests would otherwise be timed
with a log write each), and runs on uvloop:

- uvicorn: ``--loop uvloop --http httptools --no-access-log --log-level warning``;
- Granian: ``--interface asgi --loop uvloop --log-level warning --no-access-log``,
  its defaults otherwise (one runtime thread per worker, HTTP/1 and HTTP/2 on one
  port, WebSocket on), as ``porch serve`` runs it. Turning WebSocket off
  (``--no-ws``), or HTTP/2 (``--http 1``), changed porch's CPU per request by
  less than 1 µs of 47 in an interleaved trial, so the bench keeps the defaults;
- aiohttp, which is not ASGI, runs on its own server (bench/apps/aiohttp_counter.py).

porch follows uvicorn's ``--no-access-log`` (docs/options.md) but cannot see
Granian's switch, so under Granian it is told with its own: ``LOG=warning``,
which drops the access line and nothing that a request of the counter writes.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .settings import APPS, PEERS_PYTHON
from .stores import Store

UVICORN = "uvicorn"
GRANIAN = "Granian"
OWN = "its own server"
PORCH_SERVE = "porch serve"

UVICORN_FLAGS = [
    *("--loop", "uvloop", "--http", "httptools"),
    *("--no-access-log", "--log-level", "warning"),
]
GRANIAN_FLAGS = [
    *("--interface", "asgi", "--loop", "uvloop"),
    *("--log-level", "warning", "--no-access-log"),
]
# Variables that could point an app at a store we did not start (e.g. the shared Redis).
STORE_VARIABLES = ("REDIS_URL", "SESSION_STORE", "SECRET", "SESSION_SECRET", "ENV", "PORT", "LOG")

Command = Callable[[int, int], list[str]]


@dataclass
class App:
    """One app on one server: its label in the tables, how to start it, its environment."""

    name: str  # the app alone, e.g. "porch" or "Starlette + starsessions"
    server: str
    command: Command
    environment: Callable[[Store], dict[str, str]]
    checks_climb: bool = True  # a counter (1, 2, 3); False for the hello world

    @property
    def label(self) -> str:
        return f"{self.name}, {self.server}"

    def start(self, port: int, workers: int, store: Store, log: Path) -> subprocess.Popen[bytes]:
        environment = {
            key: value for key, value in os.environ.items() if key not in STORE_VARIABLES
        }
        environment.update(self.environment(store))
        with log.open("ab") as output:
            return subprocess.Popen(
                self.command(port, workers),
                env=environment,
                cwd=tempfile.gettempdir(),  # no .env, no public/ folder of this checkout
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: see processes.py
            )


def listening(port: int, workers: int) -> list[str]:
    """The flags every server here takes alike: loopback, the port, the workers."""
    return ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def uvicorn(python: Path, target: str) -> Command:
    def command(port: int, workers: int) -> list[str]:
        return [
            *(str(python), "-m", "uvicorn", target, "--app-dir", str(APPS)),
            *listening(port, workers),
            *UVICORN_FLAGS,
        ]

    return command


def granian(python: Path, target: str) -> Command:
    def command(port: int, workers: int) -> list[str]:
        return [
            *(str(python), "-m", "granian", "--working-dir", str(APPS)),
            *listening(port, workers),
            *GRANIAN_FLAGS,
            target,
        ]

    return command


def on(server: str, python: Path, target: str) -> Command:
    """``target`` served by ``server`` (uvicorn or Granian) from ``python``'s virtualenv."""
    return {UVICORN: uvicorn, GRANIAN: granian}[server](python, target)


def aiohttp_command(port: int, workers: int) -> list[str]:
    return [str(PEERS_PYTHON), str(APPS / "aiohttp_counter.py"), *listening(port, workers)]


def porch_serve(python: Path, target: str) -> Command:
    """``porch serve``: the server porch starts by default, as porch starts it."""

    def command(port: int, workers: int) -> list[str]:
        return [str(python), "-m", "porch", "serve", target, *listening(port, workers)]

    return command
