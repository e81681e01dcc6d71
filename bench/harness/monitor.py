"""MONITOR: the Redis commands porch sends for each kind of request, in steady state."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from . import catalogue
from .client import Visitor
from .load import serving
from .stores import RedisServer, Store


def record_monitor(server: RedisServer) -> list[tuple[str, list[str]]]:
    """The commands Redis saw for each kind of request, in steady state."""
    print("\n== MONITOR: Redis commands per request", flush=True)
    store = Store.fresh_redis(server)
    store.reset()
    recorded: list[tuple[str, list[str]]] = []
    with serving(catalogue.porch_monitor(), store, 1) as served:
        port = served.port
        warm = Visitor(port)
        warm.get("/")  # first use loads the Lua scripts (EVALSHA, SCRIPT LOAD): not per request
        warm.get("/")
        visitor = Visitor(port)
        requests: list[tuple[str, Callable[[], Any]]] = [
            ("GET / from a new visitor (no cookie): creates the session", lambda: visitor.get("/")),
            (
                "GET / with the session cookie: load, then save the changed key",
                lambda: visitor.get("/"),
            ),
            (
                "GET /peek with the session cookie: a read that changes nothing",
                lambda: visitor.get("/peek"),
            ),
            (
                "GET / with a tampered cookie: no store read, a new session",
                lambda: Visitor(port).get("/", cookie="session=forged.signature"),
            ),
        ]
        lines: list[str] = []
        monitor_client = redis.Redis(port=server.port, db=store.database)
        stop = threading.Event()

        def listen() -> None:
            with monitor_client.monitor() as monitor:  # type: ignore[no-untyped-call]
                for event in monitor.listen():
                    command = event["command"]
                    where = "  (inside the script)" if event.get("client_type") == "lua" else ""
                    lines.append(f"{command}{where}")
                    if stop.is_set():
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(0.3)
        for label, request in requests:
            lines.clear()
            request()
            time.sleep(0.3)
            recorded.append((label, [shorten(line) for line in lines]))
        stop.set()
        server.client.ping()  # wakes the listener so it can see stop
        listener.join(timeout=2)
    for label, commands in recorded:
        print(f"  {label}: {len(commands)} command(s)")
        for command in commands:
            print(f"      {command}")
    return recorded


def shorten(command: str) -> str:
    """Hide long script bodies and hashes so the record stays readable."""
    command = re.sub(r"[0-9a-f]{64}", lambda m: m.group(0)[:12] + "...", command)
    return command if len(command) < 200 else command[:197] + "..."
