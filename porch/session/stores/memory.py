"""MemoryStore: the reference store, in this process's memory, for development and tests.

Sessions die with the process and are not shared between workers, which is why
porch refuses to start a memory store under more than one worker.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Any

import orjson

from ...errors import ConfigError
from ..values import check_changes
from .base import ALREADY_MOVED, CREATED, SEEN, USER, Regenerated, SessionInfo, Store, user_key

DEFAULT_MAX_ENTRIES = 10_000
SWEEP_BATCH = 8  # expired entries examined per write, so expiry costs O(1) per request


class _Entry:
    """One session: its fields as JSON values, and their encoding, made when first loaded.

    The fields are the store's own copy, never handed out: ``load`` decodes the
    encoding into fresh objects, so a caller mutating what it loaded (or a value
    it saved) cannot change what the store holds. A session read on every
    request and written rarely is encoded once per write, not once per read.
    """

    __slots__ = ("encoded", "expires_at", "fields", "user")

    def __init__(self, fields: dict[str, Any], expires_at: float) -> None:
        self.fields = fields
        self.encoded: bytes | None = None  # orjson.dumps(fields), or None since the last write
        self.expires_at = expires_at
        self.user: str | None = None

    def decoded(self) -> dict[str, Any]:
        """A fresh copy of the fields: one ``orjson.loads`` of the cached encoding."""
        if self.encoded is None:
            self.encoded = orjson.dumps(self.fields)
        fields: dict[str, Any] = orjson.loads(self.encoded)
        return fields

    def update(self, values: dict[str, Any], deleted: Collection[str] = ()) -> None:
        fields = self.fields
        fields.update(values)
        if deleted:
            for name in deleted:
                fields.pop(name, None)
        self.encoded = None


def as_json(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes as the other stores give them back, in fresh objects of the store's own.

    Every value is checked first (``UnserializableValue`` names the key of one
    that is not JSON exactly), then one ``orjson.dumps`` and one ``orjson.loads``
    copy them all, before anything is written.
    """
    check_changes(changes)
    values: dict[str, Any] = orjson.loads(orjson.dumps(dict(changes)))
    return values


class MemoryStore(Store):
    """Sessions in a bounded, least-recently-used dict.

    Values go through JSON on ``save`` exactly as with the Redis and SQLite
    stores, so a value that is not JSON fails in development, not first in
    production, and what ``load`` returns is what those stores would return.
    At most ``max_entries`` sessions are kept, so a flood of new visitors
    cannot exhaust memory. Beyond that an anonymous session is evicted first,
    the least recently used; a session bound to a user (``ctx.session.user``)
    or regenerated (a login) goes only when no anonymous one is left, so a
    flood of anonymous requests cannot log anybody out. Expired entries are
    dropped on access and swept a few at a time on every write.

    ``regenerate`` leaves a marker (old key -> new key) in a dict of its own,
    beside the sessions, so ``load``, ``count`` and ``sessions_of`` never see
    it; ``destroy`` follows it (see ``Store.destroy_follows_moves``). Markers
    are bounded by ``max_entries`` too, the oldest dropped first.
    """

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ConfigError(
                f"session max_entries is {max_entries}; it must be a whole number of at least 1."
            )
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # The keys of anonymous sessions, least recently used first: evicted before
        # the others (see the class docstring). A subset of _entries' keys.
        self._anonymous: OrderedDict[str, None] = OrderedDict()
        self._users: dict[str, set[str]] = {}
        # Moved-session markers: old key -> (new key, expires_at), oldest first.
        self._moved: OrderedDict[str, tuple[str, float]] = OrderedDict()

    @classmethod
    def from_url(
        cls, url: str, *, max_entries: int = DEFAULT_MAX_ENTRIES, timeout: float = 2.0
    ) -> MemoryStore:
        """``memory://``: the URL carries nothing else; ``timeout`` has nothing to wait for."""
        return cls(max_entries=max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_entries={self.max_entries})"

    # Capabilities (see Store). The sessions are in this process's dict, a subclass's too.

    @property
    def per_process(self) -> bool:
        return True

    # Nothing here waits. Only this exact class claims it: a subclass may override
    # load or save with I/O of its own.

    @property
    def times_out_by_itself(self) -> bool:
        return type(self) is MemoryStore

    @property
    def immediate(self) -> MemoryStore | None:
        return self if type(self) is MemoryStore else None

    @property
    def destroy_follows_moves(self) -> bool:
        """True, and for a subclass too: it is what the methods do, not how fast. A subclass
        that overrides ``regenerate`` or ``destroy`` without calling these says False."""
        return True

    @property
    def tells_already_moved(self) -> bool:
        """True, and for a subclass too, on the same terms as ``destroy_follows_moves``."""
        return True

    async def load(self, key: str) -> dict[str, Any] | None:
        return self.load_now(key)

    def load_now(self, key: str) -> dict[str, Any] | None:
        """``load`` without the coroutine: the memory store never waits (see SessionLayer)."""
        entry = self._live(key, time.time())
        if entry is None:
            return None
        self._used(key)
        return entry.decoded()

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        self.save_now(key, changes, deleted, ttl)

    def save_now(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        """``save`` without the coroutine: the memory store never waits (see SessionLayer)."""
        values = as_json(changes)
        now = time.time()
        entries = self._entries
        entry = self._live(key, now)
        if entry is None:
            if CREATED not in changes:
                return  # destroyed or expired meanwhile: logout is final
            entry = entries[key] = _Entry(values, now + ttl)  # values: a fresh dict, now its own
            self._anonymous[key] = None  # until a user is bound (below) or it is regenerated
        else:
            entry.update(values, deleted)
            entry.expires_at = now + ttl
            self._used(key)
        if USER in changes:
            self._index(key, entry, changes[USER])
        if entries[next(iter(entries))].expires_at <= now:  # the oldest expired: sweep
            self._sweep(now)
        if len(entries) > self.max_entries:
            self._evict_beyond_cap()

    async def touch(self, key: str, ttl: int) -> None:
        now = time.time()
        entry = self._live(key, now)
        if entry is not None:
            entry.expires_at = now + ttl
            entry.update({SEEN: now})
            self._used(key)

    async def destroy(self, key: str) -> None:
        """The session, and those it was regenerated to (no await: one atomic step)."""
        self._drop(key)
        now = time.time()
        while (moved := self._moved.pop(key, None)) is not None:
            key, expires_at = moved
            if expires_at <= now:
                return
            self._drop(key)

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        """One step, with no await inside: a destroyed or expired session does not move,
        nor does one a concurrent regenerate moved first (its marker says so).
        A regenerated session (a login) is then kept ahead of anonymous ones."""
        as_json(data)  # a value that is not JSON fails before the old key goes
        now = time.time()
        if self._live(old_key, now) is None:
            marker = self._moved.get(old_key)
            if marker is not None and marker[1] > now:
                return ALREADY_MOVED
            return False  # logged out or expired: logout is final
        self._drop(old_key)
        self.save_now(new_key, {CREATED: now, **data}, (), ttl)
        self._anonymous.pop(new_key, None)
        self._mark_moved(old_key, new_key, now + ttl)
        return True

    async def count(self) -> int:
        await self.purge()
        return len(self._entries)

    async def purge(self) -> int:
        now = time.time()
        expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in expired:
            self._drop(key)
        for old_key in [old for old, (_, at) in self._moved.items() if at <= now]:
            del self._moved[old_key]  # markers are not sessions: not counted
        return len(expired)

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        if user is None:  # no user: nobody's sessions (see user_key)
            return 0
        keys = [key for key in self._users.get(user_key(user), ()) if key != keep]
        live = [key for key in keys if self._live(key, time.time()) is not None]
        for key in keys:
            self._drop(key)
        return len(live)

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        if user is None:  # no user: nobody's sessions (see user_key)
            return []
        now = time.time()
        infos = []
        for key in list(self._users.get(user_key(user), ())):
            entry = self._live(key, now)
            if entry is not None:
                created = entry.fields.get(CREATED, 0)
                seen = entry.fields.get(SEEN, 0)
                infos.append(SessionInfo(key=key, created=created, last_seen=seen))
        return sorted(infos, key=lambda info: info.created)

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            self._drop(key)
            return None
        return entry

    def _used(self, key: str) -> None:
        """Mark ``key`` the most recently used, among all entries and among anonymous ones."""
        self._entries.move_to_end(key)
        if key in self._anonymous:
            self._anonymous.move_to_end(key)

    def _index(self, key: str, entry: _Entry, user: Any) -> None:
        self._unindex(key, entry)
        entry.user = None if user is None else user_key(user)
        if entry.user is not None:
            self._users.setdefault(entry.user, set()).add(key)
            self._anonymous.pop(key, None)  # once logged in, kept ahead of anonymous sessions

    def _unindex(self, key: str, entry: _Entry) -> None:
        if entry.user is None:
            return
        keys = self._users.get(entry.user)
        if keys is not None:
            keys.discard(key)
            if not keys:  # the index never outlives the sessions in it
                del self._users[entry.user]

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._anonymous.pop(key, None)
            self._unindex(key, entry)

    def _sweep(self, now: float) -> None:
        """Drop expired entries from the least recently used end, a few at a time.

        Stops at the first live one: the entries are in the order they were last
        written or touched, so the oldest is the likeliest to have expired, and a
        store with nothing to sweep pays for one comparison.
        """
        entries = self._entries
        for _ in range(SWEEP_BATCH):
            if not entries:
                return
            key = next(iter(entries))
            if entries[key].expires_at > now:
                return
            self._drop(key)

    def _mark_moved(self, old_key: str, new_key: str, expires_at: float) -> None:
        """Remember the move for ``destroy``; drop expired markers from the oldest end, and
        the oldest beyond ``max_entries`` (that one move loses the guarantee, not memory)."""
        moved = self._moved
        moved[old_key] = (new_key, expires_at)
        now = time.time()
        for _ in range(SWEEP_BATCH):
            oldest = next(iter(moved))
            if moved[oldest][1] > now:
                break
            del moved[oldest]
        while len(moved) > self.max_entries:
            del moved[next(iter(moved))]

    def _evict_beyond_cap(self) -> None:
        """The least recently used anonymous session goes first; a logged-in one only
        when every session left is logged in."""
        while len(self._entries) > self.max_entries:
            victims = self._anonymous or self._entries
            self._drop(next(iter(victims)))
