"""RedisStore: sessions in Redis, shared by every worker and machine, expired by Redis itself.

Layout, for anyone reading the keyspace (``prefix`` defaults to ``porch:session:``)::

    porch:session:<sha256 of the id>  a hash: one field per session key, values JSON;
                                      it EXPIREs with the session
    porch:session:user:<user id>      a set of the hashed keys bound to that user;
                                      it expires no sooner than its longest-lived member
    porch:session:moved:<old key>     a string, the key regenerate() moved that session
                                      to; destroy() of the old key follows it. It
                                      expires with the moved session's ttl

Every write is a Lua script, so it is atomic and one round trip: a save that
finds its key gone (destroyed, expired) is dropped unless it creates the
session, which is what makes logout final even for a request already in flight.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

from .base import (
    ALREADY_MOVED,
    CREATED,
    SEEN,
    Regenerated,
    SessionInfo,
    Store,
    decode_value,
    encode_changes,
    encode_value,
    user_key,
)
from .multiplex import SharingUnsupported
from .redis_client import DEFAULT_TIMEOUT, UNREACHABLE, Client, RedisConnection
from .redis_scripts import DESTROY, DESTROY_USER, INDEX, REGENERATE, SAVE, TAKE, TOUCH
from .redis_url import redact

__all__ = ["DEFAULT_PREFIX", "DEFAULT_TIMEOUT", "UNREACHABLE", "RedisStore", "redact"]

DEFAULT_PREFIX = "porch:session:"
MOVED = "moved:"  # after the prefix: the markers regenerate leaves (see destroy)
SCAN_BATCH = 1000
# Cluster mode: rounds of destroy_user, each catching the sessions that concurrent
# requests moved to a new key while the previous round ran.
DESTROY_USER_ROUNDS = 8


def pairs_to_dict(reply: Any) -> dict[Any, Any]:
    """HGETALL's reply as a dict: a flat [field, value, ...] list (RESP2) or a map (RESP3)."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


class RedisStore(RedisConnection, Store):
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
    For the same reason ``regenerate`` in cluster mode is a save, a marker, then a
    delete, and ``destroy`` follows the marker with a command of its own; the
    order of those steps keeps the promise of ``Store.destroy_follows_moves``
    (see ``regenerate``).

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
        super().__init__(url_or_client, timeout=timeout)
        self.prefix = prefix
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
    def destroy_follows_moves(self) -> bool:
        """True, and for a subclass too: it is what the methods do, not how fast. A subclass
        that overrides ``regenerate`` or ``destroy`` without calling these says False."""
        return True

    @property
    def tells_already_moved(self) -> bool:
        """True, and for a subclass too, on the same terms as ``destroy_follows_moves``."""
        return True

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
            self._inline,
            self._user_prefix,
            key,
            len(encoded),
            *pairs,
            *deleted,
        ]
        try:
            applied, *indexes = await self._run("save", SAVE, [self._redis_key(key)], args)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if applied and self._cluster:
            async with self._translated():
                old, new = (_text(index) for index in indexes)
                if old is not None and old != new:
                    await self._unindex(old, key)
                if new is not None:
                    await self._run("index", INDEX, [new], [ttl, key])

    async def touch(self, key: str, ttl: int) -> None:
        seen = encode_value(SEEN, time.time())
        args = [ttl, seen, self._inline, self._user_prefix]
        async with self._translated():
            touched, *index = await self._run("touch", TOUCH, [self._redis_key(key)], args)
            user_index = _text(index[0]) if index else None
            if touched and self._cluster and user_index is not None:
                await self._run("index", INDEX, [user_index], [ttl, ""])

    async def destroy(self, key: str) -> None:
        """One script that follows the moved markers too; in cluster mode, the session
        first, then each marker it left (taken, so followed once) and where it leads."""
        next_key: str | None = key
        while next_key is not None:
            await self._destroy(next_key)
            if not self._cluster:
                return
            async with self._translated():
                next_key = _text(await self._run("take", TAKE, [self._marker(next_key)], []))

    async def _destroy(self, key: str) -> bool:
        """Delete the hash and its index entry; True when the hash existed. On one server,
        the sessions its marker leads to go in the same script; not in cluster mode."""
        args = [self._inline, self._user_prefix, key, self.prefix, self.prefix + MOVED]
        keys = (
            [self._redis_key(key)] if self._cluster else [self._redis_key(key), self._marker(key)]
        )
        async with self._translated():
            deleted, index = await self._run("destroy", DESTROY, keys, args)
            user_index = _text(index)
            if self._cluster and user_index is not None:
                await self._unindex(user_index, key)
        return bool(deleted)

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        """One atomic script: when the old hash still exists, the new key gets ``data``,
        the old key and its index entry go, and a marker at the old key leads a later
        ``destroy`` of it to the new one; when it is gone, nothing is written, and the
        answer is ``ALREADY_MOVED`` when a marker is there (a concurrent regenerate).

        In cluster mode the keys live in different slots: save the new key, set
        the marker (only if none is there: another request is moving the same
        session), then delete the old hash; when that delete found nothing (a
        logout or ``destroy_user`` got there first) the new key and the marker go
        again. A ``destroy`` of the old key deletes its hash before it reads the
        marker, so whichever order the steps of the two interleave in, either it
        finds the marker or this delete finds nothing. A marker already there
        means a concurrent regenerate got there first: ``ALREADY_MOVED``. (That
        one may still find the old hash gone and take its marker back; the
        answer is then ``ALREADY_MOVED`` for a session that ended, which only
        leaves a dead cookie in the browser rather than expiring it.)
        """
        if self._cluster:
            return await self._regenerate_in_steps(old_key, new_key, data, ttl)
        encoded = encode_changes(data)
        pairs = [item for name_value in encoded.items() for item in name_value]
        args = [ttl, self._user_prefix, old_key, new_key, len(encoded), *pairs]
        keys = [self._redis_key(old_key), self._redis_key(new_key), self._marker(old_key)]
        async with self._translated():
            moved = await self._run("regenerate", REGENERATE, keys, args)
        return ALREADY_MOVED if moved == 2 else bool(moved)

    async def _regenerate_in_steps(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        """Cluster mode's regenerate (see ``regenerate``)."""
        await self.save(new_key, {CREATED: time.time(), **data}, (), ttl)
        marker = self._marker(old_key)
        async with self._translated():
            client = await self._ready()
            marked = await client.set(marker, new_key, ex=ttl, nx=True)
        if marked and await self._destroy(old_key):
            return True
        await self._destroy(new_key)
        if not marked:
            return ALREADY_MOVED
        async with self._translated():
            await client.delete(marker)
        return False

    # -- optional -------------------------------------------------------------

    async def count(self) -> int:
        """Live sessions, by SCAN over the prefix (never KEYS, which blocks Redis); the
        user indexes and the moved markers share the prefix and are not sessions."""
        not_sessions = (self._user_prefix.encode(), (self.prefix + MOVED).encode())
        total = 0
        async with self._translated():
            async for name in self._scan(self._glob(self.prefix) + "*"):
                if not name.startswith(not_sessions):
                    total += 1
        return total

    async def purge(self) -> int:
        """Redis expires sessions itself, so this deletes none (returns 0); it prunes
        index members whose sessions are gone, so the sets stay small."""
        async with self._translated():
            async for index in self._scan(self._glob(self._user_prefix) + "*"):
                await self._live_members(index.decode())
        return 0

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        """One script; in cluster mode, rounds of read-the-set-then-delete until the set
        holds nothing but ``keep``, so a session a concurrent regenerate moved to a
        new key (added to the set before its old key goes) is found and deleted too."""
        if user is None:  # no user: nobody's sessions (see user_key)
            return 0
        index = self._user_prefix + user_key(user)
        if not self._cluster:
            async with self._translated():
                ended = await self._run(
                    "destroy_user", DESTROY_USER, [index], [self.prefix, keep or ""]
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
        if user is None:  # no user: nobody's sessions (see user_key)
            return []
        index = self._user_prefix + user_key(user)
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

    def _marker(self, key: str) -> str:
        """Where regenerate leaves "moved to <new key>" for ``key`` (see ``destroy``)."""
        return self.prefix + MOVED + key

    @staticmethod
    def _glob(text: str) -> str:
        return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _name(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
