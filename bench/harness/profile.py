"""Where porch's time goes: py-spy samples the busy worker while wrk drives it.

``--gil`` keeps only samples of the thread holding the GIL, i.e. Python work: the
event loop waiting in epoll, idle pool threads and Granian's Rust threads outside
Python are not counted. ``--nonblocking`` does not pause the process to sample, so
the load stays real.
"""

from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path
from typing import Any

from .client import cookie_pool
from .load import serving, wrk
from .processes import busiest, group_cpu
from .servers import App
from .settings import PY_SPY, RESULTS, ROOT, Settings
from .stores import Store

PROFILE_SECONDS = 10


def profile_porch(app: App, store: Store, settings: Settings, name: str) -> dict[str, Any]:
    """A raw profile and a speedscope one of ``app``'s single worker; the shares by frame."""
    print(f"\n== profile: {app.label} under load (py-spy)", flush=True)
    store.reset()
    seconds = PROFILE_SECONDS if not settings.quick else settings.slice_seconds
    raw = RESULTS / f"{name}.txt"
    speedscope = RESULTS / f"{name}.speedscope.json"
    sampling = ["--rate", "250", "--gil", "--nonblocking"]
    with serving(app, store, 1) as served:
        port = served.port
        cookies = cookie_pool(app, port, settings.connections)
        before = group_cpu(served.process.pid)
        wrk(port, cookies, settings, settings.warmup or 1)
        pid = busiest(before, group_cpu(served.process.pid))
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(seconds),
                *sampling,
                "--nolineno",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = wrk(port, cookies, settings, seconds)
        spy.wait(timeout=60)
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(pid),
                "--duration",
                "3",
                *sampling,
                "--format",
                "speedscope",
                "--output",
                str(speedscope),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk(port, cookies, settings, 4)
        spy.wait(timeout=30)
    summary = summarise_profile(raw)
    summary["name"] = name
    summary["app"] = app.label
    summary["server"] = app.server
    summary["seconds"] = seconds
    summary["rps_while_profiled"] = result["requests"] / (result["duration_us"] / 1e6)
    print(f"  {summary['samples']} samples holding the GIL; top frames by self time:")
    for frame, share in summary["self"][:15]:
        print(f"    {share * 100:5.1f}%  {frame}")
    print("  inclusive:")
    for label, share in summary["inclusive"]:
        print(f"    {share * 100:5.1f}%  {label}")
    return summary


# Inclusive shares worth showing beside the self-time list: the layers a request
# crosses, each a candidate for trimming.
INCLUSIVE = {
    "porch App.__call__ (all of porch, gzip included)": r"App\.__call__ \(porch/app\.py\)",
    "GZipMiddleware (compress pass-through, both layers)": r"\(starlette/middleware/gzip\.py\)",
    "App.respond (session, chain, reply)": r"App\.respond \(porch/app\.py\)",
    "Context.__init__ + cookies + headers": r"Context\.(__init__|cookies|headers) \(",
    "SessionLayer.load (cookie check + store load)": r"SessionLayer\.load \(porch/session/",
    "SessionLayer.commit (pending + store save + cookie)": r"SessionLayer\.commit \(porch/session/",
    "SessionLayer.call (a timeout only for stores that do not bound themselves)": (
        r"SessionLayer\.call \(porch/"
    ),
    "SessionLayer.verify (cookie check, memoised per cookie)": r"SessionLayer\.verify \(",
    "Signer.unsign (HMAC check)": r"Signer\.unsign \(",
    "session_key (SHA-256 of the id)": r"session_key \(porch/session/cookie\.py\)",
    "App.run_chain (routing and the handler)": r"App\.run_chain \(porch/app\.py\)",
    "Step.__call__ (the handler: inline when proven non-blocking, else a thread hop)": (
        r"Step\.__call__ \(porch/router\.py\)"
    ),
    "anyio / thread pool machinery": r"\(anyio/|\(concurrent/futures/|\(threading\.py\)",
    "the handler itself (counter)": r"counter \(.*porch_counter\.py\)",
    "to_response (JSON reply)": r"to_response \(porch/reply\.py\)",
    "Response (init + __call__)": r"Response\.(__init__|__call__|init_headers) \(",
    "RedisStore.load + save (porch side)": r"RedisStore\.(load|save|_run) \(",
    "Multiplexer (the shared Redis connection)": r"Multiplexer\.",
    "redis-py (client side of the round trips)": r"\(redis/",
    "MemoryStore": r"MemoryStore\.",
    "uvicorn httptools protocol (parse, send)": r"\(uvicorn/protocols/http/httptools_impl\.py\)",
    "asyncio event loop internals": r"\(asyncio/",
}
# The servers' own Python frames, by self time: they are at the root of every
# request's stack (they call the app), so their inclusive share would be all of it.
SERVER_SELF = {
    "Granian's Python (its ASGI glue and futures), self time only": r"\(granian/",
    "uvicorn's Python (protocol, flow control), self time only": r"\(uvicorn/",
}


def summarise_profile(raw: Path) -> dict[str, Any]:
    """Self and inclusive time per frame, from py-spy's collapsed stacks."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short_frame(frame) for frame in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for label, pattern in INCLUSIVE.items():
            if any(re.search(pattern, frame) for frame in frames):
                inclusive[label] += count
        for label, pattern in SERVER_SELF.items():
            if re.search(pattern, frames[-1]):
                inclusive[label] += count
    return {
        "samples": total,
        "self": [(name, count / total) for name, count in self_time.most_common(25)],
        "inclusive": [(label, inclusive[label] / total) for label in [*INCLUSIVE, *SERVER_SELF]],
    }


def short_frame(frame: str) -> str:
    """``name (/long/path/site-packages/pkg/mod.py)`` -> ``name (pkg/mod.py)``."""
    match = re.match(r"(.*) \((.*)\)$", frame.strip())
    if not match:
        return frame.strip()
    name, path = match.groups()
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"
