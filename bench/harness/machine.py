"""The machine a run was made on, and the versions of everything timed."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from pathlib import Path

from .load import Run
from .settings import PEERS_PYTHON, PORCH_PYTHON, ROOT


def machine(runs: list[Run]) -> list[str]:
    """The page's first bullets: date, machine, versions, commit, load."""

    def first(pattern: str, text: str) -> str:
        match = re.search(pattern, text, re.MULTILINE)
        return match.group(1).strip() if match else "?"

    loads = [run.load for run in runs]
    load_range = f"{min(loads):.1f} to {max(loads):.1f}" if loads else "not recorded"
    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = first(r"^model name\s*:(.*)$", cpuinfo)
    meminfo = Path("/proc/meminfo").read_text()
    memory_gib = int(first(r"^MemTotal:\s+(\d+)", meminfo)) / 1024 / 1024
    os_name = first(r'^PRETTY_NAME="?(.*?)"?$', Path("/etc/os-release").read_text())

    def version(python: Path, package: str) -> str:
        finished = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
        )
        return finished.stdout.strip() or "?"

    redis_version = (
        subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        .stdout.split()[2]
        .removeprefix("v=")
    )
    wrk_version = (
        subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        .stdout.split("[")[0]
        .strip()
    )
    porch_versions = ", ".join(
        f"{name} {version(PORCH_PYTHON, name)}"
        for name in (
            "porch",
            "starlette",
            "granian",
            "uvicorn",
            "uvloop",
            "httptools",
            "redis",
            "orjson",
        )
    )
    peer_versions = ", ".join(
        f"{name} {version(PEERS_PYTHON, name)}"
        for name in (
            "starlette",
            "starsessions",
            "aiohttp",
            "aiohttp-session",
            "litestar",
            "granian",
            "uvicorn",
            "uvloop",
            "httptools",
            "redis",
        )
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "porch"], capture_output=True, text=True
    ).stdout.strip()
    return [
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {cpu}, {os.cpu_count()} cores, "
        f"{memory_gib:.0f} GiB; {os_name}; Linux {platform.release()}",
        f"- Python {platform.python_version()}; Redis {redis_version}; {wrk_version}",
        f"- porch's virtualenv: {porch_versions}",
        f"- Peers' virtualenv (bench/.venv-peers): {peer_versions}",
        f"- porch at commit {commit}" + (" plus uncommitted changes under porch/" if dirty else ""),
        "- Client and servers share the machine's cores (wrk uses 2 threads).",
        f"- Load average (1 min) before the runs: {load_range}. Above about 1, other "
        "programs were competing for the 2 cores, and every figure is lower than on an "
        "idle machine; the ratios, taken within each cycle, hold up better than the absolutes.",
    ]
