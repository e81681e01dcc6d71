"""The servers' processes: free ports, waiting for one to listen, stopping a
group, and reading the CPU time a server's processes have used and the time their
threads spent waiting for a core.

Every server is started in a session of its own (``start_new_session``), so its
process group id is the pid we started, and the group holds its supervisor and
every worker it forked, whatever the server (uvicorn, Granian, aiohttp).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, with the workers it forked (its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def group_cpu(group: int) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of each live process in ``group``.

    Read from /proc/<pid>/stat: fields 14 and 15 after the command name, which is
    in parentheses and may itself hold spaces, so the fields are counted from the
    last ``)``. A worker that exited takes its time with it; none should during a run.
    """
    used: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue  # gone since the listing
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is the state (field 3), so field n is fields[n - 3].
        if int(fields[2]) == group:
            used[int(proc.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def group_runqueue_wait(group: int) -> float | None:
    """Seconds the threads of ``group``'s processes spent runnable but not running.

    The second field of /proc/<pid>/task/<tid>/schedstat: time on a run queue, waiting
    for a core. It is the scheduler's part of a request's latency, apart from the
    server's own work; a server whose request crosses two threads (Granian's Rust
    I/O thread and its Python thread) waits there more often than one that runs a
    request on one thread (uvicorn). None when the kernel keeps no schedstat.
    A thread that exits takes its time with it; none should during a run.
    """
    waited = 0
    found = False
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) != group:
                continue
            tasks = list((proc / "task").iterdir())
        except OSError:
            continue  # gone since the listing
        for task in tasks:
            try:
                waited += int((task / "schedstat").read_text().split()[1])
                found = True
            except (OSError, IndexError, ValueError):
                continue  # the thread exited, or the kernel keeps no schedstat
    return waited / 1e9 if found else None


def busiest(before: dict[int, float], after: dict[int, float]) -> int:
    """The process that used the most CPU between two readings: the worker under load.

    Both servers' supervisors (uvicorn with several workers, Granian always) hold
    the listening socket as their workers do but serve nothing, so the socket
    alone cannot tell which process answers.
    """
    return max(after, key=lambda pid: after[pid] - before.get(pid, 0.0))
