"""The tables of an interleaved comparison, and the per-cycle ratios they rest on.

A ratio of two contenders is always taken within a cycle (two runs seconds apart,
which saw the same machine), then the median over the cycles is reported with the
range of the cycles' ratios beside it: that range is this machine's noise.
"""

from __future__ import annotations

import collections
import statistics
from collections.abc import Callable

from .load import Run

Metric = Callable[[Run], float]


def rps(run: Run) -> float:
    return run.rps


def p99(run: Run) -> float:
    return run.p99_ms


def of_workers(runs: list[Run], workers: int) -> list[Run]:
    return [run for run in runs if run.workers == workers]


def cycle_ratios(runs: list[Run], label: str, reference: str, metric: Metric = rps) -> list[float]:
    """``label``'s figure over ``reference``'s, cycle by cycle."""
    by_cycle = {run.cycle: metric(run) for run in runs if run.label == reference}
    return [
        metric(run) / by_cycle[run.cycle]
        for run in runs
        if run.label == label and by_cycle.get(run.cycle)
    ]


def cycle_ratio(runs: list[Run], label: str, reference: str, metric: Metric = rps) -> float | None:
    """The median over the cycles of ``label``'s figure / ``reference``'s of the same cycle."""
    ratios = cycle_ratios(runs, label, reference, metric)
    return statistics.median(ratios) if ratios else None


def median(runs: list[Run], label: str, metric: Metric = rps) -> float | None:
    values = [metric(run) for run in runs if run.label == label]
    return statistics.median(values) if values else None


def median_wait(group: list[Run]) -> str:
    """The median run-queue wait per request, or "-" where a run could not read it."""
    waits = [run.wait_us_per_request for run in group]
    known = [wait for wait in waits if wait is not None]
    return f"{statistics.median(known):.0f}" if known and len(known) == len(waits) else "-"


def interleaved_table(
    title: str, runs: list[Run], reference: str, workers: int, *, versus: str
) -> list[str]:
    """One row per contender, fastest first: medians over its cycles, and its ratio to
    ``reference`` (median and range of the per-cycle ratios)."""
    rows = of_workers(runs, workers)
    grouped: dict[str, list[Run]] = collections.defaultdict(list)
    for run in rows:
        grouped[run.label].append(run)
    if reference not in grouped:
        return []
    cycles = len(grouped[reference])
    lines = [
        f"**{title}, {workers} worker{'s' if workers > 1 else ''}** (interleaved: {cycles} "
        f"cycles of {rows[0].seconds:.0f} s runs; medians over the cycles; ratio is each "
        f"cycle's run / that cycle's {versus} run, median and range; CPU is the server's "
        "processes' user + system time per request; wait is the time their threads were "
        "runnable but waited for a core, per request)",
        "",
        f"| app, server | req/s | vs {versus} | range | p50 ms | p99 ms | CPU µs/req "
        "| wait µs/req | req/s per cycle |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    ordered = sorted(grouped.items(), key=lambda item: -statistics.median(map(rps, item[1])))
    for label, group in ordered:
        group.sort(key=lambda run: run.cycle)
        ratios = cycle_ratios(rows, label, reference)
        name = f"**{label}**" if label == reference else label
        lines.append(
            f"| {name} | {statistics.median(run.rps for run in group):,.0f} "
            f"| {statistics.median(ratios):.2f} | {min(ratios):.2f} to {max(ratios):.2f} "
            f"| {statistics.median(run.p50_ms for run in group):.2f} "
            f"| {statistics.median(run.p99_ms for run in group):.2f} "
            f"| {statistics.median(run.cpu_us_per_request for run in group):.0f} "
            f"| {median_wait(group)} "
            f"| {', '.join(f'{run.rps:.0f}' for run in group)} |"
        )
    lines.append("")
    return lines


def scale_tables(runs: list[Run], workers: int) -> list[str]:
    """One interleaved table per store kind: the full store against the empty one."""
    lines: list[str] = []
    for kind in ("Redis", "SQLite"):
        of_kind = [run for run in of_workers(runs, workers) if run.label.startswith(kind)]
        lines.extend(
            interleaved_table(
                f"porch on {kind}", of_kind, f"{kind}, empty", workers, versus="empty"
            )
        )
    return lines


def medians(runs: list[Run]) -> dict[str, float]:
    """Each contender's median req/s over its cycles (the chart's bars)."""
    grouped: dict[str, list[float]] = collections.defaultdict(list)
    for run in runs:
        grouped[run.label].append(run.rps)
    return {label: statistics.median(values) for label, values in grouped.items()}
