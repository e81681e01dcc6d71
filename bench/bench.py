"""porch's benchmark: the session counter on uvicorn and on Granian, beside the
Python peers and the raw floors.

Run it with ``bench/run`` (which installs wrk, the peers' virtualenv and porch's
own, then calls this file with the peers' Python). What it does, in order:

1. starts a private redis-server on a free loopback port (never the shared one);
2. for each section (Redis, memory, SQLite) and worker count, starts every app of
   the section on each of its servers at once, each on a free loopback port
   (bench/harness/catalogue.py says which app runs on which server, servers.py how);
3. before timing, checks each app: a client keeping its cookie sees 1, 2, 3;
   then creates one session per wrk connection (the cookie pool, see cookie.lua);
4. warms each up, then drives them in turn with ``wrk -t2 -c50 --latency -s
   bench/cookie.lua``, 3 s each, for 10 cycles (the machine is noisy: ratios are
   taken within a cycle, see harness/settings.py), reading each server's CPU time
   around each run; afterwards no request may have failed, and each store must
   hold about one session per connection, not one per request;
5. scale: porch with 1,000,000 sessions already in Redis and in SQLite,
   interleaved with the same store empty;
6. records the Redis commands of each request kind (MONITOR) and profiles
   porch's counter under load with py-spy;
7. prints the targets and tables, and writes docs/benchmarks.md and
   docs/benchmarks.png.

Raw outputs (wrk lines, server logs, every run as JSON, the profiles) go to
bench/results/.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import catalogue
from harness.baseline import prepare
from harness.catalogue import Baseline
from harness.chart import chart
from harness.load import Run
from harness.monitor import record_monitor
from harness.profile import profile_porch
from harness.report import paced_targets, write_report
from harness.scale import scale_section
from harness.sections import memory_section, redis_section, reference, sqlite_section
from harness.servers import GRANIAN
from harness.settings import DOCS, RESULTS, Settings, parse_settings
from harness.stores import RedisServer, Store
from harness.tables import interleaved_table, scale_tables
from harness.targets import cpu_per_request, targets, targets_table


def run_sections(
    settings: Settings, server: RedisServer, scratch: Path
) -> tuple[list[Run], list[Run], list[tuple[str, list[str]]], list[dict[str, Any]]]:
    runs: list[Run] = []
    scale_runs: list[Run] = []
    monitor: list[tuple[str, list[str]]] = []
    profiles: list[dict[str, Any]] = []
    baseline = Baseline(*prepare(settings.baseline)) if settings.baseline else None
    if "redis" in settings.sections:
        runs += redis_section(settings, server, baseline)
    if "memory" in settings.sections:
        runs += memory_section(settings, baseline)
    if "sqlite" in settings.sections:
        runs += sqlite_section(settings, scratch, baseline)
    if "scale" in settings.sections:
        scale_runs = scale_section(settings, server, scratch)
    if "monitor" in settings.sections:
        monitor = record_monitor(server)
    if "profile" in settings.sections:
        profiles.append(
            profile_porch(
                catalogue.porch(GRANIAN), Store.fresh_redis(server), settings, "porch-redis"
            )
        )
        profiles.append(
            profile_porch(
                catalogue.porch_memory(GRANIAN), Store("memory"), settings, "porch-memory"
            )
        )
    return runs, scale_runs, monitor, profiles


def print_summary(runs: list[Run], scale_runs: list[Run], settings: Settings) -> None:
    print()
    for line in targets_table(paced_targets(settings, targets(runs, settings.workers))):
        print(line)
    for workers in settings.workers:
        for line in cpu_per_request(runs, workers):
            print(line)
    for scenario in sorted({run.scenario for run in runs}):
        of_scenario = [run for run in runs if run.scenario == scenario]
        for workers in settings.workers:
            for line in interleaved_table(
                scenario, of_scenario, reference(scenario), workers, versus="porch on Granian"
            ):
                print(line)
    for workers in settings.workers:
        for line in scale_tables(scale_runs, workers):
            print(line)


def main(argv: list[str]) -> int:
    settings = parse_settings(argv)
    command = "bench/run" + (" " + " ".join(argv) if argv else "")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: bench/run installs it (apt-get install wrk)")
    RESULTS.mkdir(exist_ok=True)
    for stale in ("wrk.log", "servers.log"):
        (RESULTS / stale).unlink(missing_ok=True)
    DOCS.mkdir(exist_ok=True)
    started = time.monotonic()
    server = RedisServer("empty")
    try:
        with tempfile.TemporaryDirectory(prefix="porch-bench-") as scratch:
            runs, scale_runs, monitor, profiles = run_sections(settings, server, Path(scratch))
    finally:
        server.stop()
    (RESULTS / "runs.json").write_text(
        json.dumps([{**run.__dict__, "rps": run.rps} for run in runs + scale_runs], indent=1)
    )
    print_summary(runs, scale_runs, settings)
    write_report(settings, runs, scale_runs, monitor, profiles, command)
    chart(runs, scale_runs, settings)
    print(
        f"\nWrote docs/{settings.page}.md and docs/{settings.page}.png "
        f"in {(time.monotonic() - started) / 60:.1f} min."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
