"""Prometheus metrics (``metrics='/metrics'``, env ``METRICS``), off by default.

An app without the option never imports prometheus-client and runs no metrics
code per request: ``Metrics`` is only built when the option is on, and without
it ``measure_requests`` leaves the app's ``respond`` as it is. With it on, each
request is counted by method, route *pattern* and status (never the raw path:
``/users/:id`` is one series, not one per user), timed, and every session
store call is timed by operation.

Several workers: prometheus-client's multiprocess mode. Set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before the server starts; each
worker then writes its values there and any worker's ``/metrics`` answers for
all of them. Without it, each process reports its own values.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from .errors import ConfigError, StoreUnavailable
from .router import Route
from .session.stores import CREATED, Regenerated, SessionInfo, Store
from .step import Step

if TYPE_CHECKING:
    from .context import Context, Responder
    from .options import Options

INSTALL = "pip install 'porch[metrics]'"
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own, not a porch option
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NO_ROUTE = "none"  # no route matched: public files, 404s, replies of middleware alone
# Latency buckets (seconds) for a web server: 1 ms up to 10 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_folder() -> str | None:
    """prometheus-client reads this variable itself; porch checks it so a typo fails at start-up."""
    folder = os.environ.get(MULTIPROCESS_VARIABLE)
    if folder and not os.path.isdir(folder):
        raise ConfigError(
            f"{MULTIPROCESS_VARIABLE} is {folder!r}, which is not a folder; accepted: an existing "
            "folder, empty when the server starts, that every worker can write (metrics of "
            "several workers are collected there)."
        )
    return folder or None


class Metrics:
    """The app's metrics, in a registry of its own (several apps may share a process)."""

    def __init__(self, path: str) -> None:
        try:
            import prometheus_client as prometheus
        except ImportError as exc:
            raise ConfigError(
                f"option 'metrics' is {path!r}, but prometheus-client is not installed; "
                f"run: {INSTALL} (or turn the option off)."
            ) from exc
        self.prometheus = prometheus
        self.path = path
        self.folder = multiprocess_folder()
        self.registry = prometheus.CollectorRegistry()
        counter, histogram, registry = prometheus.Counter, prometheus.Histogram, self.registry
        self.requests = counter(
            "porch_requests", "HTTP requests answered, by method, route pattern and status.",
            ["method", "route", "status"], registry=registry,
        )  # fmt: skip
        self.latency = histogram(
            "porch_request_duration_seconds", "Time to answer a request, by method and route.",
            ["method", "route"], buckets=BUCKETS, registry=registry,
        )  # fmt: skip
        self.store_latency = histogram(
            "porch_session_store_duration_seconds", "Session store calls, by operation.",
            ["operation"], buckets=BUCKETS, registry=registry,
        )  # fmt: skip
        self.store_errors = counter(
            "porch_session_store_errors", "Session store calls that failed, by operation.",
            ["operation"], registry=registry,
        )  # fmt: skip
        self.store_unavailable = counter(
            "porch_store_unavailable_responses", "503 replies because the store was unreachable.",
            registry=registry,
        )  # fmt: skip
        self.created = counter("porch_sessions_created", "Sessions created.", registry=registry)
        self.destroyed = counter(
            "porch_sessions_destroyed", "Sessions destroyed (logout).", registry=registry
        )

    def exposition(self) -> Response:
        """The text format; in multiprocess mode, the sum over every worker's files."""
        prometheus = self.prometheus
        registry = self.registry
        if self.folder is not None:
            from prometheus_client import multiprocess

            registry = prometheus.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.folder)  # type: ignore[no-untyped-call]
        body = prometheus.generate_latest(registry)
        headers = {"cache-control": "no-store"}
        return Response(body, 200, media_type=prometheus.CONTENT_TYPE_LATEST, headers=headers)

    def observe(self, ctx: Context, routes: list[Route], status: int, seconds: float) -> None:
        method = ctx.method if ctx.method in METHODS else "OTHER"  # a method is client-chosen
        route = route_pattern(ctx, routes)
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if status == 503 and isinstance(ctx.error, StoreUnavailable):
            self.store_unavailable.inc()


def route_pattern(ctx: Context, routes: list[Route]) -> str:
    """The pattern of the route that answers this request, as the chain would pick it."""
    for route in routes:
        if route.match(ctx.method, ctx.path) is not None and route.admits(ctx):
            return route.path
    return NO_ROUTE


class MeasuredStore(Store):
    """Times every call of the store it wraps, and counts sessions created and destroyed."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.inner = store
        self.metrics = metrics

    def __repr__(self) -> str:
        return repr(self.inner)

    @property
    def per_process(self) -> bool:
        """Where the sessions live is the inner store's to say (see ``Store``)."""
        return self.inner.per_process

    @property
    def destroy_follows_moves(self) -> bool:
        """The inner store's: regenerate and destroy reach it unchanged. (Not so the speed
        capabilities, ``times_out_by_itself`` and ``immediate``: this wrapper adds work.)"""
        return self.inner.destroy_follows_moves

    @property
    def tells_already_moved(self) -> bool:
        """The inner store's: its regenerate's answer passes through unchanged."""
        return self.inner.tells_already_moved

    async def timed(self, operation: str, call: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await call
        except Exception:
            self.metrics.store_errors.labels(operation).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.store_latency.labels(operation).observe(elapsed)

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def load(self, key: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.timed("load", self.inner.load(key))
        return result

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        await self.timed("save", self.inner.save(key, changes, deleted, ttl))
        if CREATED in changes:
            self.metrics.created.inc()

    async def touch(self, key: str, ttl: int) -> None:
        await self.timed("touch", self.inner.touch(key, ttl))

    async def destroy(self, key: str) -> None:
        await self.timed("destroy", self.inner.destroy(key))
        self.metrics.destroyed.inc()

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        moved: Regenerated | None = await self.timed(
            "regenerate", self.inner.regenerate(old_key, new_key, data, ttl)
        )
        # A store of the older contract returns None: it moved. ALREADY_MOVED passes on.
        return True if moved is None else moved

    async def count(self) -> int:
        result: int = await self.timed("count", self.inner.count())
        return result

    async def purge(self) -> int:
        result: int = await self.timed("purge", self.inner.purge())
        return result

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        deleted: int = await self.timed("destroy_user", self.inner.destroy_user(user, keep=keep))
        self.metrics.destroyed.inc(deleted)
        return deleted

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        result: list[SessionInfo] = await self.timed("sessions_of", self.inner.sessions_of(user))
        return result


def measure_requests(
    respond: Responder, metrics: Metrics | None, chain: Sequence[Route | Step], options: Options
) -> Responder:
    """``respond``, serving ``metrics.path`` and counting and timing every other request;
    ``respond`` itself when metrics are off, so an app without them runs no check per request.

    The time is until the response is ready (routing, handler, session, store),
    not the transfer of its body.
    """
    if metrics is None:
        return respond
    health = options.health
    if health is not None and metrics.path in (health, f"{health}/ready"):
        raise ConfigError(
            f"option 'metrics' is {metrics.path!r}, which the 'health' option ({health!r}) "
            f"already serves; accepted: a path other than {health!r} and {health + '/ready'!r}."
        )
    routes = [item for item in chain if isinstance(item, Route)]

    async def measured(ctx: Context) -> Response:
        if ctx.path == metrics.path and ctx.method in ("GET", "HEAD"):
            return metrics.exposition()
        started = time.perf_counter()
        response = await respond(ctx)
        metrics.observe(ctx, routes, response.status_code, time.perf_counter() - started)
        return response

    return measured
