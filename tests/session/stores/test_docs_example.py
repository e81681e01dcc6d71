"""The custom store of docs/stores.md, run through the conformance suite.

The example lives here, between the markers, and the test below checks that the
docs show exactly this code, so the page cannot drift from a store that passes.
"""

# --- docs/stores.md example ---
import time
from collections.abc import Collection, Mapping
from typing import Any

import pytest

from porch.session.stores import (
    CREATED,
    SEEN,
    USER,
    SessionInfo,
    Store,
    decode_value,
    encode_changes,
    user_key,
)
from porch.testing import OptionalStoreSuite, StoreSuite


class DictStore(Store):
    """Sessions in a dict: key -> (expires_at, {field: JSON bytes}). One process only."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, dict[str, bytes]]] = {}

    @property
    def per_process(self) -> bool:
        return True  # porch then refuses it under several workers, as it does the memory store

    def live(self, key: str) -> dict[str, bytes] | None:
        expires_at, fields = self.entries.get(key, (0.0, {}))
        if expires_at > time.time():
            return fields
        self.entries.pop(key, None)  # expired entries are gone, not only hidden
        return None

    async def load(self, key: str) -> dict[str, Any] | None:
        fields = self.live(key)
        if fields is None:
            return None
        return {name: decode_value(raw, key=key) for name, raw in fields.items()}

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        encoded = encode_changes(changes)  # first: a value that is not JSON changes nothing
        fields = self.live(key)
        if fields is None:
            if CREATED not in changes:
                return  # destroyed or expired meanwhile: logout is final
            fields = {}
        fields.update(encoded)
        for name in deleted:
            fields.pop(name, None)
        self.entries[key] = (time.time() + ttl, fields)

    async def touch(self, key: str, ttl: int) -> None:
        fields = self.live(key)
        if fields is not None:
            fields.update(encode_changes({SEEN: time.time()}))
            self.entries[key] = (time.time() + ttl, fields)

    async def destroy(self, key: str) -> None:
        self.entries.pop(key, None)

    async def count(self) -> int:
        return sum(self.live(key) is not None for key in list(self.entries))

    async def purge(self) -> int:
        before = len(self.entries)
        await self.count()  # drops what has expired
        return before - len(self.entries)

    def keys_of(self, user: Any) -> list[str]:
        """A real store keeps an index per user; a scan is fine for a dict."""
        found = []
        for key in list(self.entries):
            fields = self.live(key) or {}
            owner = decode_value(fields.get(USER, b"null"), key=key)
            if owner is not None and user_key(owner) == user_key(user):
                found.append(key)
        return found

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        doomed = [key for key in self.keys_of(user) if key != keep]
        for key in doomed:
            del self.entries[key]
        return len(doomed)

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        infos = []
        for key in self.keys_of(user):
            fields = self.entries[key][1]
            created = decode_value(fields.get(CREATED, b"0"), key=key)
            infos.append(SessionInfo(key, created, decode_value(fields.get(SEEN, b"0"), key=key)))
        return sorted(infos, key=lambda info: info.created)


class TestDictStore(StoreSuite, OptionalStoreSuite):
    @pytest.fixture
    def store(self) -> DictStore:
        return DictStore()


# --- end of example ---

MARKERS = ("# --- docs/stores.md example ---\n", "# --- end of example ---\n")


def test_the_docs_show_exactly_this_example() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[3] / "docs" / "stores.md"
    source = Path(__file__).read_text()
    start, end = (source.index(marker) for marker in MARKERS)
    example = source[start + len(MARKERS[0]) : end].strip()
    assert f"```python\n{example}\n```" in docs.read_text()
