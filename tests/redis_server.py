"""Real redis-server processes for the tests, each on its own free loopback port.

Never the shared Redis on 6379, and nothing is flushed: every server here is
started by the test that uses it, with its own temporary directory, and stopped
by its PID. Readiness is polled (PING), never waited for with a fixed sleep.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

READY_TIMEOUT = 10.0


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def binary(name: str) -> str:
    """The path of a Redis program; a missing one fails the run loudly, never skips."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found; `.ci/run` installs it (apt-get install redis-server)")
    return path


def ask(port: int, *command: str, password: str | None = None) -> str:
    """Run one command with redis-cli against 127.0.0.1:port; '' when it cannot connect."""
    auth = ["-a", password, "--no-auth-warning"] if password else []
    result = subprocess.run(
        [binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *auth, *command],
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = READY_TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class RedisServer:
    """One redis-server we started; ``stop()`` and ``start()`` keep its port."""

    port: int
    extra: tuple[str, ...] = ()
    password: str | None = None
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="porch-redis-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [
            binary("redis-server"),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", "redis.log",
            *(("--requirepass", self.password) if self.password else ()),
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until(self.pings, what=f"redis-server on port {self.port} to answer PING")
        except BaseException:
            self.stop()
            raise
        return self

    def pings(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            log = self.directory / "redis.log"
            last_lines = log.read_text().splitlines()[-5:] if log.exists() else []
            pytest.fail(
                f"redis-server on port {self.port} exited with {self.process.returncode}: "
                + " / ".join(last_lines)
            )
        return ask(self.port, "PING", password=self.password) == "PONG"

    def stop(self) -> None:
        """Stop our own process, by its PID, and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=READY_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis(*extra: str, password: str | None = None) -> RedisServer:
    """Start a redis-server on a free loopback port (extra arguments appended)."""
    return started(RedisServer(port=free_loopback_port(), extra=extra, password=password))


def started(server: RedisServer) -> RedisServer:
    """``server``, started; its temporary directory is removed if it cannot start."""
    try:
        return server.start()
    except BaseException:
        server.remove()
        raise


def start_sentinel(master: RedisServer, *, service: str = "porch") -> RedisServer:
    """Start a ``redis-server --sentinel`` watching ``master``; it needs a writable config file."""
    port = free_loopback_port()
    directory = Path(tempfile.mkdtemp(prefix="porch-sentinel-"))
    config = directory / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {service} 127.0.0.1 {master.port} 1\n"
    )
    process = subprocess.Popen(
        [binary("redis-server"), str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sentinel = RedisServer(port=port, directory=directory, process=process)

    def knows_master() -> bool:
        reply = ask(port, "SENTINEL", "get-master-addr-by-name", service)
        return reply.split() == ["127.0.0.1", str(master.port)]

    try:
        wait_until(knows_master, what=f"sentinel on port {port} to know master {service}")
    except BaseException:
        sentinel.remove()
        raise
    return sentinel


def is_cluster_ready(server: RedisServer, *, nodes: int) -> bool:
    """The node covers every slot and knows every other node."""
    info = ask(server.port, "CLUSTER", "INFO")
    return "cluster_state:ok" in info and f"cluster_known_nodes:{nodes}" in info


def _cluster_options(port: int) -> tuple[str, ...]:
    config_file = f"nodes-{port}.conf"  # inside the server's own --dir
    # The bus port defaults to port + 10000, which may be taken or above 65535.
    bus_port = str(free_loopback_port())
    return ("--cluster-enabled", "yes", "--cluster-config-file", config_file,
            "--cluster-port", bus_port)  # fmt: skip


def start_cluster(nodes: int = 3) -> list[RedisServer]:
    """Start ``nodes`` cluster-enabled servers and join them into one cluster (no replicas)."""
    servers: list[RedisServer] = []
    try:
        for _ in range(nodes):
            port = free_loopback_port()
            servers.append(started(RedisServer(port=port, extra=_cluster_options(port))))
        addresses = [f"127.0.0.1:{server.port}" for server in servers]
        subprocess.run(
            [binary("redis-cli"), "--cluster", "create", *addresses,
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            check=True,
            timeout=60,
        )  # fmt: skip
        for server in servers:
            wait_until(
                partial(is_cluster_ready, server, nodes=nodes),
                what=f"cluster node {server.port} to report cluster_state:ok",
            )
    except BaseException:
        for server in servers:
            server.remove()
        raise
    return servers
