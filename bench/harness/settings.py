"""Where things are, and the command line: how long, how often, which sections."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
APPS = BENCH / "apps"
RESULTS = BENCH / "results"
DOCS = ROOT / "docs"
PORCH_PYTHON = ROOT / ".venv" / "bin" / "python"
PEERS_PYTHON = BENCH / ".venv-peers" / "bin" / "python"
PY_SPY = BENCH / ".venv-peers" / "bin" / "py-spy"
SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"

# Every comparison is interleaved: the servers of a section are up at once and wrk
# drives them in turn, SLICE_SECONDS each, the order reversed every cycle. This
# machine's slow spells last tens of seconds and once moved a 10 s run by half, so
# two runs far apart say little about each other; two runs of one cycle, a few
# seconds apart, saw the same machine. Each cycle gives one ratio per pair of
# servers, and the tables report the median of SLICE_CYCLES such ratios.
SLICE_SECONDS = 3
SLICE_CYCLES = 10
SECTIONS = ("redis", "memory", "sqlite", "scale", "monitor", "profile")


@dataclass(frozen=True)
class Settings:
    slice_seconds: int
    cycles: int
    warmup: int
    threads: int
    connections: int
    scale_sessions: int
    workers: tuple[int, ...]
    sections: frozenset[str]
    quick: bool
    baseline: str | None = None  # a git ref: an earlier porch timed beside this one
    pace_ms: int = 0  # each connection waits this long before each request (0: flat out)

    @property
    def page(self) -> str:
        """The page's name in docs/: a paced run writes its own page, beside the main one."""
        return f"benchmarks-paced-{self.pace_ms}ms" if self.pace_ms else "benchmarks"

    @property
    def wrk_command(self) -> str:
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{self.slice_seconds}s --latency "
            "-s bench/cookie.lua <url> -- <threads> <one cookie per connection>"
            + (f", with PACE_MS={self.pace_ms} in wrk's environment" if self.pace_ms else "")
        )


def parse_settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="porch's benchmark: the session counter on uvicorn and Granian, "
        "beside the Python peers and the raw floors. Writes docs/benchmarks.md.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a rougher pass of about 8 minutes: 2 s slices, 3 cycles, 100,000 sessions at scale",
    )
    parser.add_argument(
        "--duration",
        type=int,
        help=f"seconds of each timed wrk slice ({SLICE_SECONDS}; 2 with --quick)",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        help=f"cycles of the interleaved sections, each server once per cycle "
        f"({SLICE_CYCLES}; 3 with --quick)",
    )
    parser.add_argument("--warmup", type=int, help="seconds of untimed wrk per server (2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    parser.add_argument(
        "--scale-sessions",
        type=int,
        help="pre-existing sessions for the scale scenario (1,000,000)",
    )
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (1,2)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"sections to run, comma-separated (default: all of {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also time porch as of this commit (tag, branch) beside this checkout's, "
        "interleaved, in the Redis, memory and SQLite sections (harness/baseline.py)",
    )
    parser.add_argument(
        "--pace",
        type=int,
        default=0,
        metavar="MS",
        help="each wrk connection waits MS milliseconds before each request, so the servers "
        "run below saturation: p99 and CPU per request at a steady load, as production runs, "
        "instead of flat out. Writes docs/benchmarks-paced-<MS>ms.md and .png instead",
    )
    options = parser.parse_args(argv)
    quick = options.quick
    sections = frozenset(options.only.split(","))
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}")
    if options.pace < 0:
        parser.error("--pace: a number of milliseconds, 0 or more")
    return Settings(
        slice_seconds=options.duration or (2 if quick else SLICE_SECONDS),
        cycles=options.cycles or (3 if quick else SLICE_CYCLES),
        warmup=options.warmup if options.warmup is not None else (1 if quick else 2),
        threads=options.threads,
        connections=options.connections,
        scale_sessions=options.scale_sessions or (100_000 if quick else 1_000_000),
        workers=tuple(int(count) for count in options.workers.split(",")),
        sections=sections,
        quick=quick,
        baseline=options.baseline,
        pace_ms=options.pace,
    )
