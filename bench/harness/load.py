"""The load: wrk against one server, and the interleaved comparison of several.

A comparison starts every server of a section at once, checks each (the counter
climbs 1, 2, 3 for a client keeping its cookie), creates one session per wrk
connection, warms each up, then drives them in turn, ``slice_seconds`` each, for
``cycles`` cycles, the order reversed every other cycle (settings.py says why).
Around each slice it reads the CPU time of the server's processes, so every run
also gives the server's CPU per request. Afterwards no request may have failed,
each store must hold about one session per connection, not one per request, and
a pooled session must have counted on.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .client import check_climbed, check_counter, cookie_pool, wait_until_answers
from .processes import free_port, group_cpu, group_runqueue_wait, stop_group
from .servers import App
from .settings import BENCH, RESULTS, Settings
from .stores import Store


@dataclass
class Run:
    """One timed wrk slice against one server."""

    label: str  # the contender's label in the tables
    scenario: str
    workers: int
    cycle: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    cpu_seconds: float  # user + system time of all the server's processes during the slice
    load: float  # the 1-minute load average before the slice
    # Time the server's threads waited for a core during the slice (None: not known).
    wait_seconds: float | None = None
    sessions_after: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds * 1e6 / self.requests if self.requests else 0.0

    @property
    def wait_us_per_request(self) -> float | None:
        if self.wait_seconds is None or not self.requests:
            return None
        return self.wait_seconds * 1e6 / self.requests


def wrk(port: int, cookies: list[str], settings: Settings, seconds: int) -> dict[str, Any]:
    """wrk's result line (bench/cookie.lua prints it): counts, microseconds, percentiles."""
    command = [
        *("wrk", f"-t{settings.threads}", f"-c{settings.connections}", f"-d{seconds}s"),
        *("--latency", "-s", str(BENCH / "cookie.lua"), f"http://127.0.0.1:{port}/"),
        *("--", str(settings.threads), *cookies),
    ]
    environment = {**os.environ, "PACE_MS": str(settings.pace_ms)}  # read by cookie.lua's delay()
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, env=environment
    )
    with (RESULTS / "wrk.log").open("a") as log:
        log.write(f"$ wrk ... {seconds}s port {port}\n{finished.stdout}{finished.stderr}\n")
    line = next((line for line in finished.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{finished.stdout}\n{finished.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


@dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def serving(app: App, store: Store, workers: int) -> Iterator[Served]:
    """``app`` up on a free port, answering; stopped, with its workers, on the way out."""
    port = free_port()
    log = RESULTS / "servers.log"
    with log.open("a") as output:
        output.write(f"\n=== {app.label}, {workers} worker(s), port {port}\n")
    process = app.start(port, workers, store, log)
    try:
        wait_until_answers(port, process)
        yield Served(port, process)
    finally:
        stop_group(process)


def check_run(run: Run, settings: Settings) -> None:
    """Failed requests, or one session per request instead of per connection, void a run."""
    problems = []
    if run.errors:
        problems.append(f"errors {run.errors}")
    if run.sessions_after is not None and run.sessions_after > settings.connections + 10:
        problems.append(
            f"{run.sessions_after} sessions after the run for {settings.connections} connections: "
            "the app does not keep the session of a returning cookie"
        )
    if problems:
        raise RuntimeError(f"{run.label}, {run.workers} worker(s): " + "; ".join(problems))


@dataclass
class Contender:
    """One server of an interleaved comparison: its label in the tables, app and store."""

    label: str
    app: App
    store: Store


def timed_slice(
    contender: Contender,
    served: Served,
    cookies: list[str],
    settings: Settings,
    *,
    scenario: str,
    workers: int,
    cycle: int,
) -> Run:
    load = os.getloadavg()[0]
    before = sum(group_cpu(served.process.pid).values())
    waited_before = group_runqueue_wait(served.process.pid)
    result = wrk(served.port, cookies, settings, settings.slice_seconds)
    after = sum(group_cpu(served.process.pid).values())
    waited_after = group_runqueue_wait(served.process.pid)
    run = Run(
        label=contender.label,
        scenario=scenario,
        workers=workers,
        cycle=cycle,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors={
            key.removeprefix("errors_"): value
            for key, value in result.items()
            if key.startswith("errors_") and value
        },
        cpu_seconds=after - before,
        load=load,
        wait_seconds=(
            waited_after - waited_before
            if waited_before is not None and waited_after is not None
            else None
        ),
    )
    check_run(run, settings)
    return run


def interleave(
    scenario: str, contenders: list[Contender], workers: int, settings: Settings
) -> list[Run]:
    """Every contender's server up at once, driven by wrk in turn (see the module's doc)."""
    print(f"\n== {scenario}, {workers} worker(s), interleaved", flush=True)
    for contender in contenders:
        contender.store.reset()
    runs: list[Run] = []
    with contextlib.ExitStack() as servers:
        served: dict[str, Served] = {}
        pools: dict[str, list[str]] = {}
        before: dict[str, int | None] = {}
        for contender in contenders:
            up = servers.enter_context(serving(contender.app, contender.store, workers))
            before[contender.label] = contender.store.count()
            check_counter(contender.app, up.port)
            served[contender.label] = up
            pools[contender.label] = cookie_pool(contender.app, up.port, settings.connections)
            if settings.warmup:
                wrk(up.port, pools[contender.label], settings, settings.warmup)
        for cycle in range(1, settings.cycles + 1):
            ordered = contenders if cycle % 2 else list(reversed(contenders))
            for contender in ordered:
                label = contender.label
                runs.append(
                    timed_slice(
                        contender,
                        served[label],
                        pools[label],
                        settings,
                        scenario=scenario,
                        workers=workers,
                        cycle=cycle,
                    )
                )
        for contender in contenders:
            label = contender.label
            counted, started_with = contender.store.count(), before[label]
            mine = [run for run in runs if run.label == label]
            if counted is not None and started_with is not None:
                for run in mine:  # the sessions all its slices created, checked once
                    run.sessions_after = counted - started_with
                check_run(mine[-1], settings)
            check_climbed(contender.app, served[label].port, pools[label][0])
            rates = ", ".join(f"{run.rps:.0f}" for run in mine)
            print(
                f"  {label:<52} median {statistics.median(run.rps for run in mine):8.0f} req/s, "
                f"{statistics.median(run.cpu_us_per_request for run in mine):5.0f} µs CPU/req "
                f"({rates})",
                flush=True,
            )
    return runs


def contenders_of(apps: list[App], stores: list[Store]) -> list[Contender]:
    return [Contender(app.label, app, store) for app, store in zip(apps, stores, strict=True)]
