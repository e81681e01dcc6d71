"""Serving on Granian, porch's default server: a Rust HTTP server that runs the ASGI app.

What porch asks of it, and why:

- ``backpressure``: at most ``max_concurrency`` requests in flight per worker;
  beyond that, connections wait in the kernel's listen queue instead of each
  holding a file descriptor in the process (slow clients cannot exhaust them).
- ``header_read_timeout``: a request's head must arrive within
  ``header_timeout`` seconds, or the connection is closed (slow-loris heads).
- ``max_headers_size`` of HTTP/2 (which Granian speaks without TLS to a
  client that opens with its preface): ``security.header_limit`` plus
  ``HEAD_SLACK``, as the head's bound on uvicorn. Granian's default, 16 MB,
  let a request of 4 KB unfold (HPACK's table repeats a field by one byte)
  into 16 MB of headers, decoded and handed to porch, only to be refused.
- Granian's own access log stays off: porch writes one line per request.
- On SIGTERM or Ctrl-C, each worker stops accepting, lets the requests in
  flight finish, then runs the ASGI lifespan shutdown, which closes the store.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import TYPE_CHECKING, Any

from ..logs import OWNS_ACCESS_LOG
from ..target import import_target
from . import HEAD_SLACK

if TYPE_CHECKING:
    from . import Servable, Settings


def granian_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments porch gives Granian's server, in-process or not."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings, HTTP2Settings
    from granian.log import LogLevels

    return {
        "address": settings.host,
        "port": settings.port,
        "interface": Interfaces.ASGI,  # with lifespan: the store opens and closes with the app
        "backpressure": settings.max_concurrency,
        "http1_settings": HTTP1Settings(header_read_timeout=int(settings.header_timeout * 1000)),
        "http2_settings": HTTP2Settings(max_headers_size=settings.header_limit + HEAD_SLACK),
        "log_level": LogLevels(settings.log),
        "log_access": False,  # porch writes its own access line, on porch.access
        "websockets": True,
    }


def serve_granian(app: Servable, settings: Settings) -> None:
    """Run Granian in the foreground, with one worker process or several."""
    from granian.server import Server

    os.environ[OWNS_ACCESS_LOG] = "1"  # the workers write porch's access line, not Granian's
    server = Server(
        settings.target or "porch:app",  # the name only shows in the process title
        workers=settings.workers,
        reload=settings.reload,
        working_dir=None,
        # A worker still waiting on its connections this long after SIGTERM is killed:
        # Granian's graceful stop has no bound of its own (see the module docstring).
        workers_kill_timeout=settings.stop_timeout,
        **granian_options(settings),
    )
    if settings.target is None:
        # One worker and no reload: the worker (forked) serves this very app object.
        server.serve(target_loader=lambda _target: app)
    else:
        # Each worker imports module:app itself, as reload must after a change. A forked
        # worker would inherit this process's modules, the app's as imported before the
        # change; a spawned one reads them from disk (uvicorn's workers are spawned too).
        multiprocessing.set_start_method("spawn", force=True)
        server.serve(target_loader=import_target)
