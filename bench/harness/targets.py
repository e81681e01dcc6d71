"""The targets porch's benchmark page reports, each checked from one run's cycles.

Every figure is a median of per-cycle ratios (tables.py), so two servers it compares
were timed seconds apart on the same machine. The targets:

- memory store, 1 worker: porch on Granian at least 0.6 times Granian's hello
  world, and at least 1.5 times porch on uvicorn;
- Redis and SQLite, each worker count: porch on Granian at least as fast as porch on
  uvicorn, its p99 no higher;
- Redis, each worker count: porch on Granian at least 1.3 times the best peer, each
  peer on whichever of its servers served it faster.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from . import catalogue
from .load import Run
from .sections import MEMORY, REDIS, SQLITE
from .servers import GRANIAN, UVICORN
from .tables import Metric, cycle_ratios, median, of_workers, p99, rps


@dataclass(frozen=True)
class Target:
    what: str
    ratios: list[float]  # one per cycle
    needed: float
    at_most: bool = False  # True: the ratio must not exceed ``needed``
    # The reference's CPU per request over this one's, cycle by cycle: how much more
    # a core's worth of CPU serves. It moves far less with the machine's load than
    # req/s does, so it says whether a throughput ratio is noise.
    cpu_ratios: tuple[float, ...] = ()

    @property
    def value(self) -> float:
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool:
        return self.value <= self.needed if self.at_most else self.value >= self.needed

    def row(self) -> str:
        sign = "≤" if self.at_most else "≥"
        cpu = f"{statistics.median(self.cpu_ratios):.2f}" if self.cpu_ratios else "-"
        return (
            f"| {self.what} | **{self.value:.2f}** ({min(self.ratios):.2f} to "
            f"{max(self.ratios):.2f}) | {sign} {self.needed:.2f} | "
            f"{'yes' if self.met else '**no**'} | {cpu} |"
        )


def target(
    runs: list[Run],
    what: str,
    label: str,
    reference: str,
    needed: float,
    *,
    metric: Metric = rps,
    at_most: bool = False,
) -> list[Target]:
    ratios = cycle_ratios(runs, label, reference, metric)
    cpu = () if at_most else tuple(cycle_ratios(runs, reference, label, cpu_per_run))
    return [Target(what, ratios, needed, at_most, cpu)] if ratios else []


def cpu_per_run(run: Run) -> float:
    return run.cpu_us_per_request


def best_peer(runs: list[Run]) -> str | None:
    """The peer setup (a peer on one of its servers) with the highest median req/s."""
    labels = {run.label for run in runs if run.label.split(", ")[0] in catalogue.PEER_NAMES}
    figures = {label: median(runs, label) or 0.0 for label in labels}
    return max(figures, key=lambda label: figures[label]) if figures else None


def targets(runs: list[Run], worker_counts: tuple[int, ...]) -> list[Target]:
    found: list[Target] = []
    memory = of_workers([run for run in runs if run.scenario == MEMORY], 1)
    porch_memory = catalogue.porch_memory(GRANIAN).label
    found += target(
        memory,
        "memory, 1 worker: porch on Granian / Granian's hello world",
        porch_memory,
        catalogue.hello(GRANIAN).label,
        0.6,
    )
    found += target(
        memory,
        "memory, 1 worker: porch on Granian / porch on uvicorn",
        porch_memory,
        catalogue.porch_memory(UVICORN).label,
        1.5,
    )
    for scenario, app in ((REDIS, catalogue.porch), (SQLITE, catalogue.porch_sqlite)):
        for workers in worker_counts:
            of_scenario = of_workers([run for run in runs if run.scenario == scenario], workers)
            granian, uvicorn = app(GRANIAN).label, app(UVICORN).label
            where = f"{scenario}, {workers} worker{'s' if workers > 1 else ''}"
            found += target(
                of_scenario, f"{where}: porch on Granian / porch on uvicorn", granian, uvicorn, 1.0
            )
            found += target(
                of_scenario,
                f"{where}: p99 of porch on Granian / p99 on uvicorn",
                granian,
                uvicorn,
                1.0,
                metric=p99,
                at_most=True,
            )
            if scenario == REDIS:
                peer = best_peer(of_scenario)
                if peer is not None:
                    found += target(
                        of_scenario,
                        f"{where}: porch on Granian / the best peer ({peer})",
                        granian,
                        peer,
                        1.3,
                    )
    return found


def targets_table(found: list[Target]) -> list[str]:
    if not found:
        return []
    return [
        "| target | measured: median of the cycles' ratios (range) | needed | met "
        "| CPU per request, inverse ratio |",
        "|---|---:|---:|---|---:|",
        *(item.row() for item in found),
        "",
    ]


def cpu_per_request(runs: list[Run], workers: int) -> list[str]:
    """porch's CPU per request on each server (all its processes' user + system time)."""
    lines = []
    for scenario, app in ((REDIS, catalogue.porch), (SQLITE, catalogue.porch_sqlite)):
        of_scenario = of_workers([run for run in runs if run.scenario == scenario], workers)
        for server in (GRANIAN, UVICORN):
            label = app(server).label
            cpu = median(of_scenario, label, cpu_per_run)
            rate = median(of_scenario, label)
            if cpu is not None and rate is not None:
                lines.append(f"| {scenario} | {server} | {rate:,.0f} | {cpu:.0f} |")
    if not lines:
        return []
    return [
        f"CPU per request, {workers} worker{'s' if workers > 1 else ''} (medians over the "
        "cycles; the server's every process, its supervisor included; wrk and Redis not "
        "counted):",
        "",
        "| store | server | req/s | CPU µs/request |",
        "|---|---|---:|---:|",
        *lines,
        "",
    ]
