"""Serving on uvicorn, on request (``SERVER=uvicorn``), with the same bounds as on Granian.

uvicorn has no time limit on a request's head: a client that sends a header
line every few seconds keeps its connection forever. porch gives uvicorn a
protocol that closes a connection whose head has not arrived within
``header_timeout`` seconds (``HeadTimeoutProtocol``, built on uvicorn's
httptools protocol, the one uvicorn picks when httptools is installed, as
``uvicorn[standard]`` does). ``limit_concurrency`` answers 503 to requests
beyond ``max_concurrency`` connections and tasks; ``timeout_keep_alive``
closes idle connections after ``keep_alive`` seconds.

Nor does uvicorn bound a request's size before the app sees it: its parser
keeps every header line, and every trailer line of a chunked body, until the
head or the body ends, so one connection could fill the memory with a head of
hundreds of megabytes before porch's ``security.header_limit`` could refuse
it. The same protocol answers 431 and closes the connection once more than
``security.header_limit`` plus ``HEAD_SLACK`` bytes arrive without the parser
reaching the body (or, after it, more body). Granian bounds the head itself
(its read buffer, about 400 KB).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from ..logs import OWNS_ACCESS_LOG
from . import HEAD_SLACK, Settings

if TYPE_CHECKING:
    from . import Servable

# porch serve --workers N starts uvicorn's worker processes, which read the head
# timeout from here (the protocol is imported by name in each of them).
HEADER_TIMEOUT_VARIABLE = "PORCH_HEADER_TIMEOUT"
HEADER_LIMIT_VARIABLE = "PORCH_HEADER_LIMIT"
PROTOCOL = "porch.serve.uvicorn:HeadTimeoutProtocol"
NEEDED = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
)
log = logging.getLogger("porch")


def base_protocol() -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol, when it is there and has the hooks porch extends."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: uvicorn uses h11, and porch cannot bound the head
        return None
    if not all(callable(getattr(HttpToolsProtocol, name, None)) for name in NEEDED):
        return None
    return HttpToolsProtocol


def http_protocol() -> str:
    """The ``http=`` porch gives uvicorn: its head-timeout protocol, else uvicorn's own choice."""
    if base_protocol() is None:
        log.warning(
            "uvicorn's httptools protocol is not available, so the header_timeout option is not "
            "enforced on uvicorn; install uvicorn[standard], or use SERVER=granian."
        )
        return "auto"
    return PROTOCOL


def header_timeout(config: Any) -> float:
    given = getattr(config, "porch_header_timeout", None)
    if given is None:
        given = float(os.environ.get(HEADER_TIMEOUT_VARIABLE, Settings.header_timeout))
    return float(given)


def head_limit(config: Any) -> int:
    """The most bytes that may arrive while the parser makes no progress (see the docstring)."""
    given = getattr(config, "porch_header_limit", None)
    if given is None:
        given = int(os.environ.get(HEADER_LIMIT_VARIABLE, Settings.header_limit))
    return int(given) + HEAD_SLACK


def too_large_answer(limit: int) -> bytes:
    message = (
        f"The request head is larger than {limit} bytes: security.header_limit plus "
        f"{HEAD_SLACK} for the request line; send fewer or smaller cookies and headers."
    ).encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(message), message)
    )


def _protocol_class() -> type[Any]:
    base: Any = base_protocol()
    if base is None:  # only imported by name after http_protocol() found the base
        raise ImportError("uvicorn's httptools protocol is not available")

    class HeadTimeoutProtocol(base):  # type: ignore[misc]
        """uvicorn's httptools protocol, closing a connection whose request head is too slow
        or too large.

        The clock starts when the connection opens, and again when a request's
        first byte arrives after an answered one (idle time between requests
        is ``timeout_keep_alive``'s); it stops when the head is complete.
        ``unparsed`` counts the bytes received since the parser last reached
        a head's end, body bytes or a message's end: a head, chunk-size lines
        and trailers, which the parser keeps or reads through without telling.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.head_timeout = header_timeout(self.config)
            self.head_timer: asyncio.TimerHandle | None = None
            self.head_limit = head_limit(self.config)
            self.unparsed = 0

        def data_received(self, data: bytes) -> None:
            self.unparsed += len(data)
            super().data_received(data)
            if self.unparsed > self.head_limit and not self.transport.is_closing():
                self.head_too_large()

        def on_body(self, body: bytes) -> None:
            self.unparsed = 0
            super().on_body(body)

        def on_message_complete(self) -> None:
            self.unparsed = 0
            super().on_message_complete()

        def head_too_large(self) -> None:
            """431 when no reply is under way (else the connection just closes), then close."""
            log.info("a request head over %d bytes: refused with 431", self.head_limit)
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(too_large_answer(self.head_limit))
            self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self.start_head_clock()

        def connection_lost(self, exc: Exception | None) -> None:
            self.stop_head_clock()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self.head_timer is None:
                self.start_head_clock()

        def on_headers_complete(self) -> None:
            self.unparsed = 0
            self.stop_head_clock()
            super().on_headers_complete()

        def start_head_clock(self) -> None:
            self.head_timer = self.loop.call_later(self.head_timeout, self.head_too_slow)

        def stop_head_clock(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def head_too_slow(self) -> None:
            self.head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeadTimeoutProtocol


def __getattr__(name: str) -> Any:
    """``HeadTimeoutProtocol`` is built on first use: importing this module needs no httptools."""
    if name == "HeadTimeoutProtocol":
        return _protocol_class()
    raise AttributeError(name)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments porch gives uvicorn, whether it runs in-process or not."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log,
        "access_log": False,  # porch writes its own access line, on porch.access
        "proxy_headers": False,  # porch decides whom to trust: the trust_proxy option
        "server_header": False,
        "limit_concurrency": settings.max_concurrency,
        "timeout_keep_alive": settings.keep_alive,
        # On SIGTERM, what is still running after this is cancelled, then the lifespan
        # shutdown closes the store (without it, a handler that never ends holds the stop).
        "timeout_graceful_shutdown": settings.stop_timeout,
        "http": http_protocol(),
    }


def config_for(app: Any, settings: Settings, **extra: Any) -> Any:
    """A ``uvicorn.Config`` for one process, carrying the head's bounds for the protocol."""
    import uvicorn

    config = uvicorn.Config(app, **{**uvicorn_options(settings), **extra})
    config.porch_header_timeout = settings.header_timeout  # type: ignore[attr-defined]
    config.porch_header_limit = settings.header_limit  # type: ignore[attr-defined]
    return config


def serve_uvicorn(app: Servable, settings: Settings) -> None:
    """Run uvicorn in the foreground: this app in one process, or module:app in several."""
    import uvicorn

    os.environ[OWNS_ACCESS_LOG] = "1"  # the workers write porch's access line, not uvicorn's
    if settings.target is None:
        uvicorn.Server(config_for(app, settings)).run()
        return
    os.environ[HEADER_TIMEOUT_VARIABLE] = str(settings.header_timeout)
    os.environ[HEADER_LIMIT_VARIABLE] = str(settings.header_limit)
    uvicorn.run(
        settings.target,
        workers=settings.workers if settings.workers > 1 else None,
        reload=settings.reload,
        app_dir=os.getcwd(),
        **uvicorn_options(settings),
    )
