"""docs/benchmarks.md: how it was measured, the targets, the tables, MONITOR, profiles."""

from __future__ import annotations

from typing import Any

from . import catalogue
from .load import Run
from .machine import machine
from .sections import MEMORY, REDIS, SQLITE, reference
from .servers import GRANIAN, GRANIAN_FLAGS, UVICORN, UVICORN_FLAGS
from .settings import DOCS, Settings
from .tables import cycle_ratio, interleaved_table, scale_tables
from .targets import Target, cpu_per_request, targets, targets_table

READING = [
    "### Reading the results",
    "",
    "- **porch above the Redis floor.** porch makes the same two Redis round trips "
    "per request as the floor (`HGETALL`, then one `EVALSHA`; see the MONITOR section). "
    "The floor, like the peers, goes through redis-py's connection pool: it checks a "
    "connection out for each command and makes one `write()` per command, on its own "
    "side and on Redis's. porch sends the session commands of every request in flight "
    "over one connection per worker, writes the commands of one event-loop turn in a "
    "single `write()`, and matches the replies in order "
    "(porch/session/stores/multiplex.py). Each command is still its own atomic script.",
    "- **The README counter is a plain `def`.** It runs on the event loop because porch "
    'proves from its source that it cannot block (docs/context.md, "Sync or async"). '
    "The `async def` row shows the same counter without that step.",
    "- **Granian or uvicorn.** Granian's HTTP parsing, header checks and socket writes "
    "are Rust; uvicorn's protocol, header validation and flow control are Python around "
    "httptools' C parser. The CPU column shows what that saves per request: most for the "
    "memory store, where the server is the larger part of a request, and little or "
    "nothing for Redis, where the profile shows porch's own writes to Redis "
    "(`StreamWriter.writelines`) as the largest Python cost under Granian.",
    "- **Req/s against CPU per request.** A server's req/s is the CPU time it obtained "
    "over its CPU per request. Where the req/s ratio of two servers is well above their "
    "CPU-per-request ratio, the faster one obtained more CPU during its slices. On a "
    "machine loaded by other programs the scheduler's shares can differ between servers "
    "(a Granian worker runs a Rust runtime thread beside its Python thread, a uvicorn "
    "worker one thread); on a quiet machine the two ratios should come closer.",
    "- **Memory vs hello world** (these CPU figures were measured on uvicorn). Under the "
    "same wrk load, the hello world cost its "
    "uvicorn worker about 22 µs of CPU per request and porch about 57 µs (user plus system "
    "time of the worker over a 6 s run, on this machine). Of porch's extra 35 µs, about "
    "10 µs is porch's own Python: the same request through porch in a loop, without HTTP, "
    "takes 9.9 µs (the cookie checked against its cache, the session loaded and saved with "
    "JSON in and out, expiry, the size cap, routing, the reply, the security headers). "
    "3.0 to 3.5 µs is uvicorn checking, in Python, the five headers porch's reply carries "
    "that the hello world's does not (four security headers and `Vary: Cookie`). About "
    "7 µs is the kernel waking wrk: the hello world keeps wrk's threads busy, so its "
    "responses seldom wake a sleeping one, while porch's mostly do (perf: the wake-up is "
    "16 % of porch's worker CPU, 10 % of the hello world's). The rest is the same Python "
    "running slower among uvicorn's than in a tight loop. So part of the ratio belongs to "
    "the load generator sharing 2 cores with the server; any app that does real work pays "
    "those wake-ups too.",
    "- **SQLite.** porch runs a request's statements on the event loop, on a connection "
    "that never waits for a lock there (docs/stores.md). A statement takes microseconds; "
    "handing each to a thread and back, as porch did before, cost about 0.3 ms of CPU per "
    "request under load, as the two threads passed the GIL back and forth. The floor runs "
    "its statements on the event loop too. With 2 workers the processes take turns on the "
    "file's write lock, and those runs vary more than the others from one run to the next.",
    "",
]


def how_measured(settings: Settings, runs: list[Run], command: str) -> list[str]:
    return [
        "## How it was measured",
        "",
        *machine(runs),
        f"- Command: `{command}`"
        + (" (the quick pass: numbers are rougher)" if settings.quick else ""),
        "- Every comparison is interleaved: all the servers of a section are up at once "
        f"(after the checks below and a {settings.warmup} s warm-up each), and wrk drives "
        f"them in turn, `{settings.wrk_command}`, for {settings.cycles} cycles, the order "
        "reversed every other cycle. Each cycle's runs are seconds apart, so a slow spell "
        "of the machine hits them alike. The tables give medians over the cycles; each "
        "ratio is the median of the cycles' own ratios, with their range beside it.",
        *(
            [
                f'- `--baseline {settings.baseline}`: the rows "porch at <commit>" are porch '
                "as of that commit, checked out into bench/.baselines/ and installed there "
                "with its own scripts/setup, timed in the same cycles as this checkout's "
                "porch; their ratio to porch on Granian is the change's effect with the "
                "machine's drift taken out (bench/harness/baseline.py)."
            ]
            if settings.baseline
            else []
        ),
        f"- Servers: uvicorn with `{' '.join(UVICORN_FLAGS)}`; Granian with "
        f"`{' '.join(GRANIAN_FLAGS)}` (its defaults otherwise, as `porch serve` runs it); "
        "both with `--workers N`. porch runs on both; Starlette and Litestar on uvicorn, "
        "which their docs recommend, and on Granian too, so no comparison sets porch on the faster "
        "server against a peer on the slower; aiohttp, which is not ASGI, on its own server "
        "with uvloop, N processes accepting on one socket. The floors and the hello world "
        "run on both servers.",
        "- CPU per request: the user + system time, read from /proc before and after each "
        "run, of all the server's processes (its supervisor and workers), over the run's "
        "requests. wrk's and Redis's time is not in it.",
        "- Wait per request: the time the server's threads were runnable but waited for a "
        "core (/proc/<pid>/task/<tid>/schedstat, second field), read around each run as "
        "the CPU time is, over the run's requests. It is the scheduler's share of the "
        "latency: on 2 cores shared with wrk and Redis, a server that hands each request "
        "between two threads (Granian: its Rust I/O thread and the Python thread) waits "
        "there more than one that runs it on one thread (uvicorn), and its p99 shows it.",
        "- The counter: GET `/` increments `views` in the session and answers "
        '`{"views": n}`. porch runs the README example unchanged (bench/apps/porch_counter.py) '
        "with `REDIS_URL` and `SECRET` in its environment (`SESSION_STORE` for memory and "
        "SQLite), and nothing else: its default `LOG=info` included. No server here writes "
        "an access line: under uvicorn's `--no-access-log` porch writes none either; "
        "Granian's switch is invisible to porch, so there porch gets `LOG=warning`, which "
        "drops the access line only (the memory section also shows `porch serve` with "
        "porch's own access line on). The peers: Starlette + starsessions (RedisStore), "
        "aiohttp + aiohttp-session (RedisStorage), Litestar (server-side sessions, its "
        "RedisStore). The floor is a bare ASGI function with raw redis-py asyncio: one GET "
        "and one SET with expiry, keyed by a cookie set on the first visit. Each app has a "
        "Redis database of its own on one private redis-server.",
        "- Every request carries a real session cookie (bench/cookie.lua: one session is "
        "created per connection before the run and the cookies are handed out round-robin), "
        "so every request loads and saves a session. Before timing, a cookie-keeping client "
        "must see 1, 2, 3; after the runs, no request may have failed, the store must hold "
        "about one session per connection, not one per request, and a pooled session must "
        "have counted on.",
        "",
    ]


def targets_part(settings: Settings, runs: list[Run]) -> list[str]:
    found = paced_targets(settings, targets(runs, settings.workers))
    if not found:
        return []
    lines = [
        "## Targets",
        "",
        "porch on Granian, its default server, against porch on uvicorn, the hello "
        "world and the peers. Each figure is the median over the cycles of a ratio "
        "of two runs of the same cycle; the range is the spread of those ratios. The "
        "last column is the same comparison by CPU per request (the other's CPU time "
        "per request over porch on Granian's, median over the cycles): it moves far "
        "less with other programs' load than req/s does, so where the two columns agree "
        "the throughput ratio is not noise.",
        "",
        *targets_table(found),
    ]
    for workers in settings.workers:
        lines.extend(cpu_per_request(runs, workers))
    return lines


def results_part(settings: Settings, runs: list[Run], scale_runs: list[Run]) -> list[str]:
    sections = [
        (REDIS, "Sessions in Redis", settings.workers),
        (MEMORY, "Sessions in memory (porch) vs a bare ASGI hello world", (1,)),
        (SQLITE, "Sessions in SQLite", settings.workers),
    ]
    lines = ["## Results", ""]
    for scenario, title, worker_counts in sections:
        scenario_runs = [run for run in runs if run.scenario == scenario]
        if not scenario_runs:
            continue
        lines += [f"### {title}", ""]
        if scenario == MEMORY:
            lines += [memory_note(scenario_runs), ""]
        for workers in worker_counts:
            lines += interleaved_table(
                title.split(" (")[0],
                scenario_runs,
                reference(scenario),
                workers,
                versus="porch on Granian",
            )
    lines.extend(READING)
    if scale_runs:
        lines += [
            f"### Scale: {settings.scale_sessions:,} sessions already in the store",
            "",
            "porch's counter on Granian, on a store that already holds that many sessions "
            "(bulk-loaded in porch's own format by bench/preload.py), interleaved with the "
            "same store empty. For Redis the full store is a second private redis-server. "
            "A Redis lookup by key costs the same whatever the store holds, so the range of "
            "the Redis rows' ratios is this machine's noise: read the SQLite rows against it.",
            "",
        ]
        for workers in settings.workers:
            lines.extend(scale_tables(scale_runs, workers))
    return lines


def memory_note(runs: list[Run]) -> str:
    hello = {
        server: cycle_ratio(
            runs, catalogue.porch_memory(server).label, catalogue.hello(server).label
        )
        for server in (GRANIAN, UVICORN)
    }
    return (
        "One worker only: porch refuses the memory store with several workers (each would "
        "hold its own sessions). **porch (memory) / the hello world on the same server: "
        f"{hello[GRANIAN] or 0:.2f} on Granian, {hello[UVICORN] or 0:.2f} on uvicorn**, "
        "each the median over the cycles of porch's run over the hello world's run of the "
        "same cycle."
    )


def monitor_part(monitor: list[tuple[str, list[str]]]) -> list[str]:
    if not monitor:
        return []
    lines = [
        "## Redis commands per request (MONITOR)",
        "",
        "Recorded with `MONITOR` on the private Redis, after a first visitor has "
        "loaded the Lua scripts; commands run inside a script are marked. "
        "App: bench/apps/porch_monitor.py (the counter plus a read-only `/peek`).",
        "",
    ]
    for label, commands in monitor:
        round_trips = sum(1 for command in commands if "inside the script" not in command)
        lines += [f"**{label}**: {round_trips} round trip(s)", "", "```"]
        lines += commands or ["(no command)"]
        lines += ["```", ""]
    return lines


def profile_part(profile: dict[str, Any]) -> list[str]:
    return [
        f"## Profile: {profile['app']}, 1 worker",
        "",
        f"py-spy (`--gil --nonblocking`, 250 Hz) on the busy {profile['server']} worker for "
        f"{profile['seconds']} s while wrk drives it ({profile['rps_while_profiled']:,.0f} "
        f"req/s under the profiler; {profile['samples']:,} samples, each one of Python "
        "holding the GIL, so the shares are of the worker's Python CPU time; samples taken "
        "without pausing the process can be torn, so shares are approximate, and waiting "
        "for the GIL, such as a thread hop's hand-over, does not show). "
        f"Flame graph: bench/results/{profile['name']}.speedscope.json (speedscope).",
        "",
        "Top frames by self time:",
        "",
        "| self | frame |",
        "|---:|---|",
        *(f"| {share * 100:.1f}% | `{name}` |" for name, share in profile["self"][:15]),
        "",
        "Inclusive time of the layers a request crosses (they nest):",
        "",
        "| inclusive | layer |",
        "|---:|---|",
        *(
            f"| {share * 100:.1f}% | {label} |"
            for label, share in profile["inclusive"]
            if share > 0
        ),
        "",
    ]


def paced_part(settings: Settings) -> list[str]:
    """What a paced run measures, and what in it is not a result."""
    if not settings.pace_ms:
        return []
    return [
        f"**A paced run** (`--pace {settings.pace_ms}`): each wrk connection waits "
        f"{settings.pace_ms} ms before each request, so the servers run below saturation, "
        "as a production server mostly does. Each connection's req/s is then set by the pace "
        "plus the latency, so the req/s columns read only latency here, and of the "
        "targets only the p99 ones are given; what this page measures is p50, p99 and "
        "CPU per request at a steady load. The flat-out run is docs/benchmarks.md.",
        "",
    ]


def paced_targets(settings: Settings, found: list[Target]) -> list[Target]:
    """At a pace, req/s follows from the pace plus the latency: only the p99 targets stand."""
    return [item for item in found if item.at_most] if settings.pace_ms else found


def write_report(
    settings: Settings,
    runs: list[Run],
    scale_runs: list[Run],
    monitor: list[tuple[str, list[str]]],
    profiles: list[dict[str, Any]],
    command: str,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run` (bench/bench.py and bench/harness/); rerun it to refresh "
        "this page. The benchmark is not part of the test suite.",
        "",
        *paced_part(settings),
        f"![requests per second]({settings.page}.png)",
        "",
        *how_measured(settings, runs + scale_runs, command),
        *targets_part(settings, runs),
        *results_part(settings, runs, scale_runs),
        *monitor_part(monitor),
    ]
    for profile in profiles:
        lines.extend(profile_part(profile))
    text = "\n".join(lines)
    (DOCS / f"{settings.page}.md").write_text(text)
    return text
