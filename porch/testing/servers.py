"""The two servers ``run()`` can start in-process: Granian (the default) and uvicorn.

Each is started on the current event loop (``run()``'s async form) or on a
loop of its own in a thread (the sync form), on a loopback port that porch
reserves first, and stopped the way a signal stops it in production: requests
in flight finish, then the lifespan shutdown closes the store.

Granian runs in-process through its embeddable server
(``granian.server.embed``), which binds the port itself. porch reserves a free
port with a socket bound, not listening, with ``SO_REUSEPORT`` (as Granian's
own listener is): the kernel hands that port to no one else while the test
runs, and connections go only to Granian's listening socket. Starting and
stopping it costs about as much as uvicorn (tens of milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app import App
from ..errors import ConfigError
from ..serve import SERVERS, Settings

START_TIMEOUT = 10.0
T = TypeVar("T")
POLL = 0.005


class AppDidNotStart(Exception):
    """The server stopped before it answered: the lifespan start-up failed, or the port."""


class StartupWatch:
    """Wraps the ASGI app to keep the message of a failed lifespan start-up, for the error.

    Servers report it differently (uvicorn logs it and exits, Granian logs a
    traceback and stops its worker); run() says it the same way on both.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.failure: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)

        async def watched(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                self.failure = message.get("message") or "the lifespan start-up failed"
            await send(message)

        await self.app(scope, receive, watched)

    def error(self) -> RuntimeError:
        why = f": {self.failure}" if self.failure else "; see the log above for why"
        return RuntimeError(f"the porch app did not start{why}")


class Runner(Protocol):
    """One server, started and stopped by run()."""

    url: str

    threaded: ThreadedLoop

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def start_in_thread(self) -> None: ...
    def stop_thread(self) -> None: ...


def reserve_port(reuse: bool) -> socket.socket:
    """A socket on a free loopback port: listening (uvicorn is handed it), or only reserving it."""
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only for sockets
    # that say they are TCP, and with Nagle on each response waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if reuse:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    if not reuse:
        sock.listen(128)
    return sock


def runner_for(name: str, app: App, target: ASGIApp, watch: StartupWatch) -> Runner:
    """The runner of the server named ``name`` (run()'s ``server`` option, else SERVER)."""
    if name not in SERVERS:
        raise ConfigError(f"run()'s server is {name!r}; accepted: {', '.join(SERVERS)}.")
    settings = Settings(
        server=name,
        host="127.0.0.1",
        port=0,
        log="warning",
        header_timeout=app.options.header_timeout,
        header_limit=app.options.security.header_limit,
        keep_alive=app.options.keep_alive,
        max_concurrency=app.options.max_concurrency,
    )
    if name == "granian":
        return GranianRunner(target, settings, watch)
    return UvicornRunner(target, settings, watch)


class ThreadedLoop:
    """The sync form: the server's coroutine on an event loop of its own, in a thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def start(self, main: Any) -> None:
        ready = threading.Event()

        def body() -> None:
            self.loop = asyncio.new_event_loop()
            ready.set()
            try:
                self.loop.run_until_complete(main())
            finally:
                self.loop.close()

        self.thread = threading.Thread(target=body, name="porch-run", daemon=True)
        self.thread.start()
        ready.wait()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def call(self, function: Any) -> None:
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing left to stop
                self.loop.call_soon_threadsafe(function)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coroutine`` on the server's loop and wait for its result (the sync form's end)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def wait_until(started: Any, running: Any, error: Exception) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not started():
        if not running() or time.monotonic() > deadline:
            raise error
        time.sleep(POLL)


async def wait_until_async(started: Any, running: Any, error: Exception) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not await started():
        if not running() or time.monotonic() > deadline:
            raise error
        await asyncio.sleep(POLL)


class UvicornRunner:
    """uvicorn, handed porch's listening socket (no port race)."""

    def __init__(self, app: ASGIApp, settings: Settings, watch: StartupWatch) -> None:
        import uvicorn

        from ..serve.uvicorn import config_for

        self.watch = watch
        self.socket = reserve_port(reuse=False)
        host, port = self.socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        config = config_for(app, settings, lifespan="on")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None
        self.threaded = ThreadedLoop()

    async def serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.socket])
        except SystemExit:  # uvicorn reports a failed start-up with sys.exit()
            raise AppDidNotStart() from None

    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.serve())

        async def started() -> bool:
            return bool(self.server.started)

        try:
            await wait_until_async(started, self.running, self.watch.error())
        except RuntimeError:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.server.should_exit = True
        try:
            if self.task is not None:
                await self.task
        except AppDidNotStart:
            pass  # the caller reports it
        finally:
            self.socket.close()

    def start_in_thread(self) -> None:
        self.threaded.start(self.serve_quietly)
        try:
            wait_until(lambda: self.server.started, self.threaded.alive, self.watch.error())
        except RuntimeError:
            self.stop_thread()
            raise

    async def serve_quietly(self) -> None:
        with contextlib.suppress(AppDidNotStart):  # run() reports it
            await self.serve()

    def stop_thread(self) -> None:
        self.server.should_exit = True
        try:
            self.threaded.join()
        finally:
            self.socket.close()


def embedded_server_class() -> type[Any]:
    """Granian's embeddable server, made to give back its listening socket when it stops.

    On Linux it builds the listener once to check the address and never closes
    that socket (one file descriptor per start: harmless for a server started
    once, hundreds in a test suite). porch keeps the built socket instead, for
    the worker to serve from (the path Granian takes elsewhere), and closes it
    after the stop. When Granian's server no longer has the parts this expects,
    porch uses it as it is: it works, at one descriptor per run().
    """
    from granian.server.embed import Server

    try:
        from granian._granian import ListenerSpec
    except ImportError:
        return Server
    if not callable(getattr(Server, "_init_shared_socket", None)):
        return Server

    class Embedded(Server):
        listener: tuple[int, int] | None = None  # (descriptor, inode) of the socket porch keeps

        def _init_shared_socket(self) -> None:
            holder = ListenerSpec(self.bind_addr, self.bind_port, self.backlog).build()
            descriptor: int = holder.get_fd()
            self._ssp, self._shd, self._sfd = None, holder, descriptor  # type: ignore[assignment]
            self.listener = (descriptor, os.fstat(descriptor).st_ino)

        def close_listener(self) -> None:
            """Close the socket kept above, if that descriptor is still that socket."""
            if self.listener is None:
                return
            descriptor, inode = self.listener
            self.listener = None
            with contextlib.suppress(OSError):
                if os.fstat(descriptor).st_ino == inode:
                    os.close(descriptor)

    return Embedded


class GranianRunner:
    """Granian's embeddable server, on a port porch reserved."""

    def __init__(self, app: ASGIApp, settings: Settings, watch: StartupWatch) -> None:
        from ..serve.granian import granian_options

        Server = embedded_server_class()

        self.watch = watch
        self.socket = reserve_port(reuse=True)
        host, port = self.socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.address = (host, port)
        options = granian_options(Settings(**{**settings.__dict__, "port": port}))
        options.pop("log_level")
        # Granian's own lines (start, stop, "experimental") are not the test's; failures
        # reach the test through run()'s error, with the app's message.
        self.server = Server(app, log_enabled=False, **options)
        self.task: asyncio.Task[None] | None = None
        self.threaded = ThreadedLoop()

    async def answering(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(*self.address)
        except OSError:
            return False
        writer.close()
        return True

    def answering_now(self) -> bool:
        try:
            socket.create_connection(self.address, timeout=1).close()
        except OSError:
            return False
        return True

    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.serve())
        try:
            await wait_until_async(self.answering, self.running, self.watch.error())
        except RuntimeError:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.server.stop()
        try:
            if self.task is not None:
                await self.task
        finally:
            self.release()

    def release(self) -> None:
        close_listener = getattr(self.server, "close_listener", None)
        if close_listener is not None:
            close_listener()
        self.socket.close()

    async def serve(self) -> None:
        """Granian's serve; a failed lifespan start-up ends in FatalError, which run() reports."""
        from granian.errors import FatalError

        with contextlib.suppress(FatalError):
            await self.server.serve()

    def start_in_thread(self) -> None:
        self.threaded.start(self.serve)
        try:
            wait_until(self.answering_now, self.threaded.alive, self.watch.error())
        except RuntimeError:
            self.stop_thread()
            raise

    def stop_thread(self) -> None:
        self.threaded.call(self.server.stop)
        try:
            self.threaded.join()
        finally:
            self.release()
