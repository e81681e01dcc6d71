"""RedisStore: sessions in Redis, shared by every worker and machine, expired by Redis itself.

Layout, for anyone reading the keyspace (``prefix`` defaults to ``porch:session:``)::

    porch:session:<sha256 of the id>  a hash: one field per session key, values JSON;
                                      it EXPIREs with the session
    porch:session:user:<user id>      a set of the hashed keys bound to that user;
                                      it expires no sooner than its longest-lived member

Every write is a Lua script, so it is atomic and one round trip: a save that
finds its key gone (destroyed, expired) is dropped unless it creates the
session, which is what makes logout final even for a request already in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from redis import __version__ as redis_version
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from ...errors import ConfigError, StoreUnavailable
from .base import (
    CREATED,
    SEEN,
    SessionInfo,
    Store,
    decode_value,
    encode_changes,
    encode_value,
    user_key,
)
from .multiplex import Multiplexer, SharingUnsupported, unsupported
from .redis_failures import FAILURES, describe, is_refusal

log = logging.getLogger("porch.session")

DEFAULT_PREFIX = "porch:session:"
DEFAULT_TIMEOUT = 2.0
POOL_CONNECTIONS = 2**31  # redis-py's cap before 8.0: none in practice (see _client_for)
SCAN_BATCH = 1000
# Cluster mode: rounds of destroy_user, each catching the sessions that concurrent
# requests moved to a new key while the previous round ran.
DESTROY_USER_ROUNDS = 8

Client = Redis | RedisCluster

# Shared by every script: the index set a stored $user value points at, and
# "the set lives at least as long as this member" (milliseconds, so a set that
# TTL would round up can never expire a moment before its session).
_LUA_HELPERS = """
local function index_of(prefix, raw)
  if not raw or raw == 'null' then return false end
  if string.sub(raw, 1, 1) == '"' then return prefix .. cjson.decode(raw) end
  return prefix .. raw
end
local function outlive(index, ttl)
  local wanted = tonumber(ttl) * 1000
  local current = redis.call('PTTL', index)
  if current == -1 or (current >= 0 and current < wanted) then
    redis.call('PEXPIRE', index, wanted)
  end
end
local function call_in_chunks(command, key, first, last)
  local chunk = 1000
  local i = first
  while i <= last do
    local stop = math.min(i + chunk - 1, last)
    redis.call(command, key, unpack(ARGV, i, stop))
    i = stop + 1
  end
end
"""


def _lua(body: str) -> str:
    """A script: the shared helpers, then ``body``."""
    return _LUA_HELPERS + body


# KEYS[1] session hash. ARGV: ttl, may_create, inline_index, index_prefix, member,
# n_changes, n_changes field/value pairs, then the deleted fields.
# Returns {1, old index, new index} when applied, {0} when dropped.
_SAVE = _lua("""
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 and ARGV[2] ~= '1' then return {0} end
local prefix, member = ARGV[4], ARGV[5]
local old = index_of(prefix, redis.call('HGET', key, '$user'))
local first_pair = 7
local last_pair = first_pair + 2 * tonumber(ARGV[6]) - 1
call_in_chunks('HSET', key, first_pair, last_pair)
call_in_chunks('HDEL', key, last_pair + 1, #ARGV)
local new = index_of(prefix, redis.call('HGET', key, '$user'))
if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
if ARGV[3] == '1' then
  if old and old ~= new then redis.call('SREM', old, member) end
  if new then
    redis.call('SADD', new, member)
    outlive(new, ARGV[1])
  end
end
return {1, old, new}
""")

# KEYS[1] session hash. ARGV: ttl, $seen as JSON, inline_index, index_prefix.
# Returns {1, index} when touched, {0} when the key is gone.
_TOUCH = _lua("""
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {0} end
redis.call('HSET', key, '$seen', ARGV[2])
redis.call('EXPIRE', key, ARGV[1])
local index = index_of(ARGV[4], redis.call('HGET', key, '$user'))
if index and ARGV[3] == '1' then outlive(index, ARGV[1]) end
return {1, index}
""")

# KEYS[1] session hash. ARGV: inline_index, index_prefix, member. Returns {deleted, index}.
_DESTROY = _lua("""
local key = KEYS[1]
local index = index_of(ARGV[2], redis.call('HGET', key, '$user'))
local deleted = redis.call('DEL', key)
if index and ARGV[1] == '1' then redis.call('SREM', index, ARGV[3]) end
return {deleted, index}
""")

# KEYS[1] a user's index set. ARGV: ttl, member to add ('' to only extend).
_INDEX = _lua("""
if ARGV[2] ~= '' then redis.call('SADD', KEYS[1], ARGV[2]) end
outlive(KEYS[1], ARGV[1])
return 1
""")

# KEYS[1] old hash, KEYS[2] new hash. ARGV: ttl, index_prefix, old member,
# new member, n_fields, field/value pairs. Returns 1 when moved, 0 when the old
# hash was gone (destroyed or expired: nothing is written). Not for cluster mode.
_REGENERATE = _lua("""
local old_key, new_key = KEYS[1], KEYS[2]
if redis.call('EXISTS', old_key) == 0 then return 0 end
local prefix = ARGV[2]
local old_index = index_of(prefix, redis.call('HGET', old_key, '$user'))
redis.call('DEL', old_key)
if old_index then redis.call('SREM', old_index, ARGV[3]) end
call_in_chunks('HSET', new_key, 6, 5 + 2 * tonumber(ARGV[5]))
redis.call('EXPIRE', new_key, ARGV[1])
local new_index = index_of(prefix, redis.call('HGET', new_key, '$user'))
if new_index then
  redis.call('SADD', new_index, ARGV[4])
  outlive(new_index, ARGV[1])
end
return 1
""")

# KEYS[1] a user's index set. ARGV: session prefix, member to keep ('' for none).
# Deletes every other member's session and takes it out of the set, in one step,
# so a regenerate cannot move a session out from under it. Not for cluster mode.
_DESTROY_USER = _lua("""
local index, prefix, keep = KEYS[1], ARGV[1], ARGV[2]
local deleted = 0
for _, member in ipairs(redis.call('SMEMBERS', index)) do
  if member ~= keep then
    deleted = deleted + redis.call('DEL', prefix .. member)
    redis.call('SREM', index, member)
  end
end
return deleted
""")


SCRIPT_SHA = {
    name: hashlib.sha1(source.encode()).hexdigest()  # Redis names a script by its SHA-1
    for name, source in {
        "save": _SAVE,
        "touch": _TOUCH,
        "destroy": _DESTROY,
        "index": _INDEX,
        "regenerate": _REGENERATE,
        "destroy_user": _DESTROY_USER,
    }.items()
}

# What an unreachable, hung, failing-over or refusing Redis raises; porch answers 503.
UNREACHABLE = FAILURES


def pairs_to_dict(reply: Any) -> dict[Any, Any]:
    """HGETALL's reply as a dict: a flat [field, value, ...] list (RESP2) or a map (RESP3)."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def redact(url: str) -> str:
    """The URL with its password replaced, so it can go into logs and error messages."""
    return re.sub(r"(?<=://)([^:@/]*):[^@/]*@", r"\1:***@", url)


def _host_ports(netloc: str, *, url: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` (after any ``user:password@``) as pairs."""
    hosts = netloc.rpartition("@")[2]
    pairs = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"session store URL {redact(url)!r}: {item!r} is not host:port; "
                "write e.g. redis+sentinel://:password@10.0.0.1:26379,10.0.0.2:26379/mymaster/0."
            )
        pairs.append((host.strip("[]"), int(port)))
    return pairs


def _credentials(netloc: str) -> tuple[str | None, str | None]:
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None, None
    username, colon, password = userinfo.partition(":")
    if not colon:  # "secret@host" carries a password alone, as redis:// does
        return None, unquote(username) or None
    return unquote(username) or None, unquote(password) or None


class RedisStore(Store):
    """Sessions in Redis: the production store, shared by all workers and machines.

    ``RedisStore('redis://:pw@host:6379/0')``, or pass a ready client
    (``redis.asyncio.Redis`` or ``RedisCluster``), which stays yours to close.
    URLs: ``redis://``, ``rediss://`` (TLS), ``unix:///path/redis.sock``,
    ``redis+sentinel://[:password@]host:port[,host:port]/service_name[/db]``
    (the password is the master's) and
    ``redis+cluster://[:password@]host:port[,host:port]``.

    Each operation is one round trip and atomic for its key: ``load`` is HGETALL,
    ``save``/``touch``/``destroy`` are one EVALSHA each. The per-user index (a set)
    is updated inside the same script, except in cluster mode: there the set and
    the session hash hash to different slots and one script may not touch both,
    so the index is updated by a second command after the session write. A crash
    between the two leaves at worst a stale index member, which ``sessions_of``,
    ``destroy_user`` and ``purge`` prune; it never loses or resurrects a session.
    For the same reason ``regenerate`` in cluster mode is a save then a destroy.

    ``timeout`` (seconds) bounds connecting and each reply; a call gets one
    immediate reconnect attempt, then raises ``StoreUnavailable`` (porch answers 503).
    A Redis that answers with an error reply (out of memory, read-only replica,
    loading, wrong password...) raises ``StoreUnavailable`` too, naming the refusal.
    """

    def __init__(
        self,
        url_or_client: str | Client,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.prefix = prefix
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
        # Decided once: these are read on every call (an isinstance check against
        # redis-py's classes goes through typing's slow protocol check).
        self._cluster = isinstance(url_or_client, RedisCluster) or (
            self._url is not None and self._url.lower().startswith("redis+cluster://")
        )
        self._user_prefix = prefix + "user:"
        self._inline = "0" if self._cluster else "1"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        max_entries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        prefix: str = DEFAULT_PREFIX,
    ) -> RedisStore:
        """Build from a store URL; ``max_entries`` is for the memory store and ignored here."""
        return cls(url, prefix=prefix, timeout=timeout)

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r})"

    @property
    def times_out_by_itself(self) -> bool:
        """True when porch built the client: the shared connection's watchdog, and the
        pool's socket timeouts, end every call within ``timeout``.

        The session layer then skips its own timeout scope around each call; a
        hung Redis still answers 503.
        """
        # Only this exact class: a subclass may override a method with I/O of its own.
        return type(self) is RedisStore and self._owns_client

    @property
    def multiplexed(self) -> bool:
        """True when the session calls share one pipelined connection (porch/session/stores/
        multiplex.py): a plain Redis URL that porch connects itself, once it has connected."""
        return self._mux is not None

    @property
    def is_cluster(self) -> bool:
        return self._cluster

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

    # -- the contract ---------------------------------------------------------

    async def load(self, key: str) -> dict[str, Any] | None:
        try:  # not `async with self._translated()`: this is the hot path, twice a request
            if self._mux is not None:
                try:
                    raw = pairs_to_dict(await self._mux.execute("HGETALL", self._redis_key(key)))
                except SharingUnsupported as error:
                    await self._stop_sharing(error)
                    return await self.load(key)
            else:
                client = self._ready_client() or await self._ready()
                raw = await client.hgetall(self._redis_key(key))
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if not raw:
            return None
        return {_name(name): decode_value(value, key=key) for name, value in raw.items()}

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        encoded = encode_changes(changes)
        pairs = [item for name_value in encoded.items() for item in name_value]
        args = [
            ttl,
            "1" if CREATED in changes else "0",
            self._inline_index(),
            self._index_prefix(),
            key,
            len(encoded),
            *pairs,
            *deleted,
        ]
        try:
            applied, *indexes = await self._run("save", _SAVE, [self._redis_key(key)], args)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if applied and self._cluster:
            async with self._translated():
                old, new = (_text(index) for index in indexes)
                if old is not None and old != new:
                    await self._unindex(old, key)
                if new is not None:
                    await self._run("index", _INDEX, [new], [ttl, key])

    async def touch(self, key: str, ttl: int) -> None:
        seen = encode_value(SEEN, time.time())
        args = [ttl, seen, self._inline_index(), self._index_prefix()]
        async with self._translated():
            touched, *index = await self._run("touch", _TOUCH, [self._redis_key(key)], args)
            user_index = _text(index[0]) if index else None
            if touched and self.is_cluster and user_index is not None:
                await self._run("index", _INDEX, [user_index], [ttl, ""])

    async def destroy(self, key: str) -> None:
        await self._destroy(key)

    async def _destroy(self, key: str) -> bool:
        """Delete the hash and its index entry; True when the hash existed."""
        args = [self._inline_index(), self._index_prefix(), key]
        async with self._translated():
            deleted, index = await self._run("destroy", _DESTROY, [self._redis_key(key)], args)
            user_index = _text(index)
            if self.is_cluster and user_index is not None:
                await self._unindex(user_index, key)
        return bool(deleted)

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> bool:
        """One atomic script: when the old hash still exists, the new key gets ``data``
        and the old key and its index entry go; when it is gone, nothing is written.

        In cluster mode the two keys live in different slots: save the new key,
        then delete the old one, and when that delete found nothing (a logout or
        ``destroy_user`` got there first) delete the new key again.
        """
        if self.is_cluster:
            await self.save(new_key, {CREATED: time.time(), **data}, (), ttl)
            if await self._destroy(old_key):
                return True
            await self._destroy(new_key)
            return False
        encoded = encode_changes(data)
        pairs = [item for name_value in encoded.items() for item in name_value]
        args = [ttl, self._index_prefix(), old_key, new_key, len(encoded), *pairs]
        keys = [self._redis_key(old_key), self._redis_key(new_key)]
        async with self._translated():
            moved = await self._run("regenerate", _REGENERATE, keys, args)
        return bool(moved)

    # -- optional -------------------------------------------------------------

    async def count(self) -> int:
        """Live sessions, by SCAN over the prefix (never KEYS, which blocks Redis)."""
        index_prefix = self._index_prefix().encode()
        total = 0
        async with self._translated():
            async for name in self._scan(self._glob(self.prefix) + "*"):
                if not name.startswith(index_prefix):
                    total += 1
        return total

    async def purge(self) -> int:
        """Redis expires sessions itself, so this deletes none (returns 0); it prunes
        index members whose sessions are gone, so the sets stay small."""
        async with self._translated():
            async for index in self._scan(self._glob(self._index_prefix()) + "*"):
                await self._live_members(index.decode())
        return 0

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        """One script; in cluster mode, rounds of read-the-set-then-delete until the set
        holds nothing but ``keep``, so a session a concurrent regenerate moved to a
        new key (added to the set before its old key goes) is found and deleted too."""
        index = self._index_prefix() + user_key(user)
        if not self.is_cluster:
            async with self._translated():
                ended = await self._run(
                    "destroy_user", _DESTROY_USER, [index], [self.prefix, keep or ""]
                )
            return int(ended)
        total = 0
        async with self._translated():
            client = await self._ready()
            for _ in range(DESTROY_USER_ROUNDS):
                members = [member for member in await self._members(index) if member != keep]
                if not members:
                    break
                async with client.pipeline(transaction=False) as pipe:
                    for member in members:
                        pipe.delete(self._redis_key(member))
                    deleted: list[int] = await pipe.execute()
                await client.srem(index, *members)
                total += sum(deleted)
        return total

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        index = self._index_prefix() + user_key(user)
        async with self._translated():
            live = await self._live_members(index)
        infos = [
            SessionInfo(
                key=member,
                created=decode_value(created or b"0", key=member),
                last_seen=decode_value(seen or b"0", key=member),
            )
            for member, (created, seen) in live.items()
        ]
        return sorted(infos, key=lambda info: info.created)

    # -- helpers --------------------------------------------------------------

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
            username, password = _credentials(netloc)
            nodes = [ClusterNode(host, port) for host, port in _host_ports(netloc, url=url)]
            return RedisCluster(
                startup_nodes=nodes, username=username, password=password, **options
            )
        client: Redis = Redis.from_url(url, **options)
        return client

    def _sentinel_master(self, url: str, options: dict[str, Any]) -> Redis:
        parts = urlsplit(url)
        path = [segment for segment in parts.path.split("/") if segment]
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ConfigError(
                f"session store URL {redact(url)!r} needs a service name and an optional db: "
                "redis+sentinel://[:password@]host:port[,host:port]/service_name[/db]."
            )
        username, password = _credentials(parts.netloc)
        sentinel_options = {key: value for key, value in options.items() if key != "retry"}
        # Typed as Any: Sentinel's constructor is unannotated before redis-py 8.2 and
        # annotated from it, and porch type-checks against either.
        make_sentinel: Any = Sentinel
        self._sentinel = make_sentinel(
            _host_ports(parts.netloc, url=url), sentinel_kwargs=sentinel_options, **options
        )
        master: Redis = self._sentinel.master_for(
            path[0],
            db=int(path[1]) if len(path) == 2 else 0,
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

    async def _scan(self, pattern: str) -> AsyncIterator[bytes]:
        client = await self._ready()
        async for name in client.scan_iter(match=pattern, count=SCAN_BATCH):
            yield name

    async def _members(self, index: str) -> list[str]:
        client = await self._ready()
        members = await client.smembers(index)
        return sorted(_name(member) for member in members)

    async def _live_members(self, index: str) -> dict[str, tuple[bytes | None, bytes | None]]:
        """``$created`` and ``$seen`` of each live member; dead members are pruned."""
        members = await self._members(index)
        if not members:
            return {}
        client = await self._ready()
        async with client.pipeline(transaction=False) as pipe:
            for member in members:
                pipe.hmget(self._redis_key(member), [CREATED, SEEN])
            rows: list[list[bytes | None]] = await pipe.execute()
        live = {}
        dead = []
        for member, (created, seen) in zip(members, rows, strict=True):
            if created is None and seen is None:
                dead.append(member)
            else:
                live[member] = (created, seen)
        if dead:
            await client.srem(index, *dead)
        return live

    async def _unindex(self, index: str, key: str) -> None:
        """Cluster mode only: the index set lives in another slot than the session."""
        client = await self._ready()
        await client.srem(index, key)

    def _redis_key(self, key: str) -> str:
        return self.prefix + key

    def _index_prefix(self) -> str:
        return self._user_prefix

    def _inline_index(self) -> str:
        return self._inline

    @staticmethod
    def _glob(text: str) -> str:
        return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _name(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
