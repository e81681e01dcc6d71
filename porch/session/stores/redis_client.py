"""RedisStore's connection: which client a URL makes, connecting lazily, and each call's errors.

Kept apart from the store's session operations (``redis.py``): this is how porch
talks to Redis (a shared pipelined connection for plain URLs, redis-py's pool
for Sentinel and Cluster, Lua scripts by SHA), that is what it says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from redis import __version__ as redis_version
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from ...errors import StoreUnavailable
from .multiplex import Multiplexer, SharingUnsupported, unsupported
from .redis_failures import FAILURES, describe, is_refusal
from .redis_scripts import SCRIPT_SHA
from .redis_url import credentials, host_ports, redact, sentinel_service

log = logging.getLogger("porch.session")

DEFAULT_TIMEOUT = 2.0
POOL_CONNECTIONS = 2**31  # redis-py's cap before 8.0: none in practice (see _client_for)

Client = Redis | RedisCluster

# What an unreachable, hung, failing-over or refusing Redis raises; porch answers 503.
UNREACHABLE = FAILURES


class RedisConnection:
    """The client of one RedisStore: made on first use, closed only when porch made it.

    ``timeout`` (seconds) bounds connecting and each reply; a call gets one
    immediate reconnect attempt, then raises ``StoreUnavailable``.
    """

    def __init__(self, url_or_client: str | Client, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._sentinel: Sentinel | None = None
        if isinstance(url_or_client, str):
            self._url: str | None = url_or_client
            self._client: Client | None = None
            self._owns_client = True
            self.where = redact(url_or_client)
        else:
            self._url = None
            self._client = url_or_client
            self._owns_client = False
            self.where = f"a {type(url_or_client).__name__} client passed in code"
        self._client_ready = False  # the client exists (and a cluster's slot map is loaded)
        self._mux: Multiplexer | None = None  # the shared connection, for plain Redis URLs
        self._cluster_lock = asyncio.Lock()
        self._cluster_ready = False
        # Decided once: read on every call (an isinstance check against redis-py's
        # classes goes through typing's slow protocol check).
        self._cluster = isinstance(url_or_client, RedisCluster) or (
            self._url is not None and self._url.lower().startswith("redis+cluster://")
        )

    @property
    def multiplexed(self) -> bool:
        """True when the session calls share one pipelined connection (porch/session/stores/
        multiplex.py): a plain Redis URL that porch connects itself, once it has connected."""
        return self._mux is not None

    async def open(self) -> None:
        """Create the connection pool. Connections are made on first use, so a Redis that
        is down at start-up makes requests answer 503 rather than stopping the app."""
        self._connect()

    async def close(self) -> None:
        """Close the pool (and sentinel connections) if this store created them."""
        client, self._client = self._client, None
        sentinel, self._sentinel = self._sentinel, None
        mux, self._mux = self._mux, None
        if mux is not None:
            await mux.close()
        self._client_ready = False
        self._cluster_ready = False
        self._cluster_lock = asyncio.Lock()  # a later open() may run on another event loop
        if not self._owns_client:
            self._client = client  # the caller's client stays theirs, and usable
            return
        if client is not None:
            await client.aclose()
        if sentinel is not None:
            # Each sentinel's own client, not Sentinel.aclose(), which redis-py has
            # only from 8.1 on; `sentinels` is public in every supported release.
            for sentinel_client in sentinel.sentinels:
                await sentinel_client.aclose()

    def _connect(self) -> Client:
        """The client, created on first use: calls before ``open()`` open lazily."""
        if self._client is None:
            assert self._url is not None  # a store built from a client always has one
            self._client = self._client_for(self._url)
            if isinstance(self._client, Redis) and self._sentinel is None:
                reason = unsupported(self._client)
                if reason is None:
                    self._mux = Multiplexer(
                        self._client, timeout=self.timeout, unavailable=self._unavailable
                    )
                else:
                    self._not_shared(reason)
        return self._client

    def _not_shared(self, reason: str) -> None:
        """Say once why the session calls go through redis-py's pooled client instead."""
        log.warning(
            "The Redis session store at %s uses redis-py's plain client instead of one "
            "shared connection, because redis-py %s differs from what porch expects: %s. "
            "Sessions work as usual, a little slower; an update of porch will share it again.",
            self.where,
            redis_version,
            reason,
        )

    async def _stop_sharing(self, error: SharingUnsupported) -> None:
        """The shared connection found redis-py changed once connected: fall back for good."""
        mux, self._mux = self._mux, None
        if mux is not None:
            self._not_shared(str(error))
            await mux.close()

    def _ready_client(self) -> Client | None:
        """The client when ``_ready()`` has already run: the hot path skips awaiting it."""
        return self._client if self._client_ready else None

    async def _ready(self) -> Client:
        """The client, with a cluster's slot map loaded before any command is sent.

        redis-py's RedisCluster loads it lazily on first use; under a burst of
        concurrent first commands that races and drops connections, so the
        first caller loads it alone while the others wait.
        """
        client = self._connect()
        if self._cluster and not self._cluster_ready:
            async with self._cluster_lock:
                if not self._cluster_ready:
                    await client.initialize()
                    self._cluster_ready = True
        self._client_ready = True
        return client

    def _client_for(self, url: str) -> Client:
        scheme = url.partition("://")[0].lower()
        options: dict[str, Any] = {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            # One immediate reconnect covers a pooled connection that Redis
            # dropped (a restart); more retries would only delay the 503.
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            # redis-py 8 caps a pool at 100 connections and fails the 101st call at
            # once ("Too many connections"): a 503 under a burst of requests, through
            # a sentinel or the plain client. Earlier releases had no cap; Redis's
            # own maxclients (10,000) bounds them.
            "max_connections": POOL_CONNECTIONS,
        }
        if scheme == "redis+sentinel":
            return self._sentinel_master(url, options)
        if scheme == "redis+cluster":
            netloc = urlsplit(url).netloc
            username, password = credentials(netloc)
            nodes = [ClusterNode(host, port) for host, port in host_ports(netloc, url=url)]
            return RedisCluster(
                startup_nodes=nodes, username=username, password=password, **options
            )
        client: Redis = Redis.from_url(url, **options)
        return client

    def _sentinel_master(self, url: str, options: dict[str, Any]) -> Redis:
        parts = urlsplit(url)
        service, db = sentinel_service(url)
        username, password = credentials(parts.netloc)
        sentinel_options = {key: value for key, value in options.items() if key != "retry"}
        # Typed as Any: Sentinel's constructor is unannotated before redis-py 8.2 and
        # annotated from it, and porch type-checks against either.
        make_sentinel: Any = Sentinel
        self._sentinel = make_sentinel(
            host_ports(parts.netloc, url=url), sentinel_kwargs=sentinel_options, **options
        )
        master: Redis = self._sentinel.master_for(
            service,
            db=db,
            username=username,
            password=password,
        )
        return master

    async def _run(self, name: str, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script by EVALSHA, loading it first when the server does not know it
        (a new or restarted Redis). Called directly rather than through redis-py's Script
        wrapper, which re-checks the client's type and encoder on every call."""
        client = self._ready_client() or await self._ready()
        digest = SCRIPT_SHA[name]
        mux = self._mux
        if mux is not None:
            try:
                try:
                    return await mux.execute("EVALSHA", digest, len(keys), *keys, *args)
                except NoScriptError:
                    await mux.execute("SCRIPT", "LOAD", source)
                    return await mux.execute("EVALSHA", digest, len(keys), *keys, *args)
            except SharingUnsupported as error:
                await self._stop_sharing(error)
        try:
            return await client.evalsha(digest, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(source)
            return await client.evalsha(digest, len(keys), *keys, *args)

    @asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        """Turn an unreachable Redis into StoreUnavailable (porch answers 503)."""
        try:
            yield
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        """The 503's error: says whether Redis is unreachable or refused, and which refusal."""
        return StoreUnavailable(
            f"The Redis session store at {self.where} {describe(exc)}. Requests "
            "that use the session answer 503 until Redis accepts them again; check that "
            "Redis is running and that REDIS_URL / SESSION_STORE point at it.",
            refused=is_refusal(exc),
        )
