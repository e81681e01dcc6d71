"""Running an app: on which server, where it listens, and how long a slow client may take.

Two servers run porch apps with the same flags meaning the same thing:
Granian (the default: a Rust HTTP server, faster per request, with a bound
on requests in flight and a time limit on a request's head) and uvicorn (on
request: ``SERVER=uvicorn``). Each server's start lives in its own module
(``porch.serve.granian``, ``porch.serve.uvicorn``); this one resolves the
settings both read, so a flag, its variable and the app's options agree.

What runs is any ``Servable``: an ASGI app carrying porch's options, as
``server()``'s app is. This package never imports the app, so ``app.run()``
can call it without an import cycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..converters import choice, integer, text
from ..errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from ..options import Options

SERVERS = ("granian", "uvicorn")
HEAD_SLACK = 64 * 1024
"""Bytes a request head may hold beyond ``security.header_limit`` (which counts header names
and values only): the request line, and each line's colon and line break. Each server is
told to stop reading a head at ``header_limit + HEAD_SLACK``: porch's own 431 comes after
the server has read it all, into memory."""
log = logging.getLogger("porch")


class Servable(Protocol):
    """What a server needs of an app: an ASGI app, with the options its settings come from.

    ``started_by_porch`` is set when porch starts the server, so the app knows
    the server's own access log is off and writes porch's line instead.
    """

    started_by_porch: bool

    @property
    def options(self) -> Options: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


@dataclass(frozen=True)
class Settings:
    """What a server is told: the address, the processes, and the bounds on slow clients.

    ``target`` is ``module:attribute`` when the server must import the app in
    each worker (several workers, or reload); else the app object is served.
    """

    server: str
    host: str
    port: int
    workers: int = 1
    reload: bool = False
    target: str | None = None
    log: str = "info"
    header_timeout: float = 10.0
    header_limit: int = 32 * 1024
    keep_alive: float = 5.0
    max_concurrency: int = 1000
    stop_timeout: int = 30

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def settings_for(
    app: Servable,
    *,
    host: str | None = None,
    port: int | None = None,
    server: str | None = None,
    workers: int = 1,
    reload: bool = False,
    target: str | None = None,
) -> Settings:
    """The app's options (environment included), with each given flag beating its variable."""
    options = app.options
    return Settings(
        server=options.server if server is None else choice(*SERVERS)(server, "--server"),
        host=options.host if host is None else text(host, "--host"),
        port=options.port if port is None else integer(0, 65535)(port, "--port"),
        workers=integer(1)(workers, "--workers"),
        reload=reload,
        target=target if workers > 1 or reload else None,
        log=options.log,
        header_timeout=options.header_timeout,
        header_limit=options.security.header_limit,
        keep_alive=options.keep_alive,
        max_concurrency=options.max_concurrency,
        stop_timeout=options.stop_timeout,
    )


def serve(app: Servable, settings: Settings) -> None:
    """Serve until stopped (Ctrl-C or SIGTERM: requests in flight finish, then the store closes)."""
    if (settings.workers > 1 or settings.reload) and settings.target is None:
        raise ConfigError(
            "several workers and reload import the app in each process: "
            "use porch serve module:app --workers N (or --reload)."
        )
    app.started_by_porch = True  # the server's own access log is off, for porch's line
    processes = f"{settings.workers} workers" if settings.workers > 1 else "1 worker"
    log.info(
        "listening on %s (%s, %s%s)",
        settings.url,
        settings.server,
        processes,
        ", reload on changes" if settings.reload else "",
    )
    if settings.server == "granian":
        from .granian import serve_granian

        serve_granian(app, settings)
    else:
        from .uvicorn import serve_uvicorn

        serve_uvicorn(app, settings)


__all__ = ["HEAD_SLACK", "SERVERS", "Servable", "Settings", "serve", "settings_for"]
