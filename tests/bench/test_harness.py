"""The benchmark's arithmetic and bookkeeping: ratios paired by cycle, the targets,
the CPU time read from /proc, the command line. The timed runs themselves are
``bench/run``'s (not part of this suite)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from harness import catalogue, load
from harness.load import Run
from harness.processes import busiest, group_cpu, group_runqueue_wait, stop_group
from harness.report import paced_targets
from harness.sections import MEMORY, REDIS
from harness.servers import GRANIAN, OWN, UVICORN
from harness.settings import parse_settings
from harness.tables import cycle_ratio, cycle_ratios, interleaved_table, p99
from harness.targets import best_peer, targets


def run(
    label: str,
    cycle: int,
    rps: float,
    *,
    p99_ms: float = 5.0,
    workers: int = 1,
    scenario: str = REDIS,
    cpu: float = 1.0,
) -> Run:
    return Run(
        label=label,
        scenario=scenario,
        workers=workers,
        cycle=cycle,
        requests=int(rps * 2),
        seconds=2.0,
        p50_ms=1.0,
        p99_ms=p99_ms,
        errors={},
        cpu_seconds=cpu,
        load=0.5,
    )


def test_ratios_are_taken_within_a_cycle_and_a_cycle_without_reference_is_left_out() -> None:
    runs = [
        run("a", 1, 100),
        run("b", 1, 50),
        run("a", 2, 40),
        run("b", 2, 20),  # a slow spell: both halved, the ratio holds
        run("a", 3, 90),  # b has no run in cycle 3
    ]
    assert cycle_ratios(runs, "a", "b") == [2.0, 2.0]
    assert cycle_ratio(runs, "a", "b") == 2.0
    assert cycle_ratio(runs, "a", "missing") is None


def test_ratios_of_another_metric() -> None:
    runs = [run("a", 1, 100, p99_ms=3.0), run("b", 1, 100, p99_ms=6.0)]
    assert cycle_ratios(runs, "a", "b", p99) == [0.5]


def test_the_best_peer_is_each_peer_on_its_faster_server() -> None:
    porch = catalogue.porch(GRANIAN).label
    starlette_uvicorn = catalogue.starlette(UVICORN).label
    starlette_granian = catalogue.starlette(GRANIAN).label
    runs = []
    for cycle in (1, 2, 3):
        runs += [
            run(porch, cycle, 10_000),
            run(starlette_uvicorn, cycle, 3_000),
            run(starlette_granian, cycle, 2_500),
            run(catalogue.aiohttp().label, cycle, 2_000),
            run(catalogue.floor_redis(GRANIAN).label, cycle, 6_000),  # a floor, not a peer
        ]
    assert best_peer(runs) == starlette_uvicorn
    found = {target.what: target for target in targets(runs, (1,))}
    against_peer = found[f"Redis, 1 worker: porch on Granian / the best peer ({starlette_uvicorn})"]
    assert against_peer.value == pytest.approx(10_000 / 3_000)
    assert against_peer.met


def test_targets_compare_porch_on_granian_with_uvicorn_and_the_hello_world() -> None:
    granian, uvicorn = catalogue.porch(GRANIAN).label, catalogue.porch(UVICORN).label
    memory_g = catalogue.porch_memory(GRANIAN).label
    memory_u = catalogue.porch_memory(UVICORN).label
    hello_g = catalogue.hello(GRANIAN).label
    runs = [
        run(granian, 1, 12_000, p99_ms=8.0, workers=2, cpu=0.8),
        run(uvicorn, 1, 10_000, p99_ms=6.0, workers=2, cpu=1.0),
        run(memory_g, 1, 30_000, scenario=MEMORY),
        run(memory_u, 1, 18_000, scenario=MEMORY),
        run(hello_g, 1, 45_000, scenario=MEMORY),
    ]
    found = {target.what: target for target in targets(runs, (2,))}
    faster = found["Redis, 2 workers: porch on Granian / porch on uvicorn"]
    assert faster.value == pytest.approx(1.2)
    assert faster.met
    # CPU per request: 0.8 s / 24,000 requests against 1.0 s / 20,000.
    assert list(faster.cpu_ratios) == [pytest.approx((1.0 / 20_000) / (0.8 / 24_000))]
    tail = found["Redis, 2 workers: p99 of porch on Granian / p99 on uvicorn"]
    assert tail.value == pytest.approx(8.0 / 6.0)
    assert not tail.met  # a higher p99 fails "no worse"
    assert "**no**" in tail.row()
    hello = found["memory, 1 worker: porch on Granian / Granian's hello world"]
    assert hello.value == pytest.approx(30_000 / 45_000)
    assert hello.met
    versus_uvicorn = found["memory, 1 worker: porch on Granian / porch on uvicorn"]
    assert versus_uvicorn.value == pytest.approx(30_000 / 18_000)
    assert versus_uvicorn.met


def test_no_target_without_its_runs() -> None:
    assert targets([], (1, 2)) == []


def test_the_table_orders_by_median_and_marks_the_reference() -> None:
    runs = [run("slow", 1, 10), run("fast", 1, 30), run("ref", 1, 20)]
    lines = interleaved_table("t", runs, "ref", 1, versus="ref")
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| app")]
    assert [row.split(" | ")[0] for row in rows] == ["| fast", "| **ref**", "| slow"]
    assert " | 1.50 | " in rows[0]


def test_every_app_has_a_distinct_label() -> None:
    apps = catalogue.redis_apps()
    labels = [app.label for app in apps]
    assert len(set(labels)) == len(labels)
    assert {app.server for app in apps} == {GRANIAN, UVICORN, OWN}


def test_group_cpu_reads_a_server_groups_cpu_time() -> None:
    busy = (
        "import time\n"
        "while time.process_time() < 0.2: pass\n"  # CPU time, not wall-clock: load-proof
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", busy], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"done\n"
        used = group_cpu(process.pid)
        assert list(used) == [process.pid]  # only the group's processes, not ours
        assert used[process.pid] >= 0.2 - 0.02  # clock ticks round down
        assert busiest({}, used) == process.pid
    finally:
        stop_group(process)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode is not None


def test_the_command_line() -> None:
    quick = parse_settings(["--quick"])
    assert (quick.slice_seconds, quick.cycles, quick.scale_sessions) == (2, 3, 100_000)
    full = parse_settings([])
    assert (full.slice_seconds, full.cycles, full.workers) == (3, 10, (1, 2))
    assert parse_settings(["--only", "memory", "--duration", "1"]).sections == {"memory"}
    with pytest.raises(SystemExit):
        parse_settings(["--only", "memroy"])


def test_a_paced_run_has_its_own_page_and_refuses_a_negative_pace() -> None:
    assert parse_settings([]).page == "benchmarks"
    assert parse_settings(["--pace", "4"]).page == "benchmarks-paced-4ms"
    assert "PACE_MS=4" in parse_settings(["--pace", "4"]).wrk_command
    with pytest.raises(SystemExit):
        parse_settings(["--pace", "-1"])


class Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the servers under test
    disable_nagle_algorithm = True  # head and body leave at once, not 40 ms apart

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("pace_ms", [0, 100])
def test_cookie_lua_waits_the_pace_before_each_request(
    pace_ms: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through wrk itself: 2 connections for 1 s wait 100 ms a request, so they make at
    most about 20 requests; unpaced, the same wrk makes hundreds."""
    monkeypatch.setattr(load, "RESULTS", tmp_path)  # wrk.log goes here, not in bench/
    answering = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=answering.serve_forever, daemon=True)
    thread.start()
    try:
        settings = replace(
            parse_settings(["--threads", "1", "--connections", "2"]), pace_ms=pace_ms
        )
        port = answering.server_address[1]
        result = load.wrk(port, ["sid=a", "sid=b"], settings, seconds=1)
    finally:
        answering.shutdown()
        answering.server_close()
    assert result["errors_status"] == 0
    if pace_ms:
        assert 2 <= result["requests"] <= 2 * (1000 // pace_ms + 1)
    else:
        assert result["requests"] > 200


def test_a_paced_run_keeps_only_the_p99_targets() -> None:
    runs = [
        run(label, cycle, rps, p99_ms=p99_ms)
        for cycle in (1, 2)
        for label, rps, p99_ms in (
            (catalogue.porch(GRANIAN).label, 100, 4.0),
            (catalogue.porch(UVICORN).label, 100, 3.0),
        )
    ]
    flat_out = targets(runs, (1,))
    assert any(not item.at_most for item in flat_out) and any(item.at_most for item in flat_out)
    paced = paced_targets(parse_settings(["--pace", "4"]), flat_out)
    assert paced and all(item.at_most for item in paced)
    assert paced_targets(parse_settings([]), flat_out) == flat_out


def test_runqueue_wait_reads_the_time_a_groups_threads_waited_for_a_core() -> None:
    """Two busy processes of one group pinned to one core: each waits while the other
    runs, so the group's run-queue wait grows by about the CPU time they used."""
    busy = (
        "import os, time\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "while time.process_time() < 0.3: pass\n"
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    group = (
        "import subprocess, sys, time\n"
        f"children = [subprocess.Popen([sys.executable, '-c', {busy!r}]) for _ in range(2)]\n"
        "time.sleep(60)\n"
    )
    before_start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", group], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"done\n"
        assert process.stdout.readline() == b"done\n"
        waited = group_runqueue_wait(process.pid)
        assert waited is not None, "this kernel keeps no /proc/<pid>/task/<tid>/schedstat"
        # Each used 0.3 s of CPU on the shared core, so the first to finish waited
        # through much of the other's time; the group's three processes can have waited
        # at most the whole time since the start each.
        assert 0.15 <= waited <= 3 * (time.monotonic() - before_start)
    finally:
        stop_group(process)
        if process.stdout is not None:
            process.stdout.close()


def test_the_table_gives_the_wait_per_request_or_a_dash() -> None:
    # 2,000 requests a run, 0.2 s waited: 100 µs a request (and no other column says 100)
    known = [replace(run("a", cycle, 1000), wait_seconds=0.2) for cycle in (1, 2)]
    row = next(
        line for line in interleaved_table("t", known, "a", 1, versus="a") if "**a**" in line
    )
    assert row.split(" | ")[7] == "100"
    unknown = interleaved_table("t", [run("a", 1, 1000)], "a", 1, versus="a")
    assert next(line for line in unknown if "**a**" in line).split(" | ")[7] == "-"
