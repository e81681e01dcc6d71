"""Store capabilities: what a store declares about itself, and the session layer trusts.

The layer asks the store (``times_out_by_itself``, ``immediate``), never its
class, so a new backend that can skip the timeout scope or the coroutine says
so in its own module. Only the exact built-in classes claim them: a subclass
may override a method with I/O of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from porch import get, run
from porch.context import Context
from porch.session.encryption import EncryptedStore
from porch.session.stores import MemoryStore, Store
from porch.session.stores.sqlite import SQLiteStore


class Plain(Store):
    """A store that declares nothing: the defaults of the contract."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def load(self, key: str) -> dict[str, Any] | None:
        self.calls.append("load")
        return self.load_now(key)

    def load_now(self, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(key)
        return None if entry is None else dict(entry)

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        self.calls.append("save")
        self.save_now(key, changes, deleted, ttl)

    def save_now(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        entry = self.entries.setdefault(key, {})
        entry.update(changes)
        for name in deleted:
            entry.pop(name, None)

    async def touch(self, key: str, ttl: int) -> None:
        self.calls.append("touch")

    async def destroy(self, key: str) -> None:
        self.entries.pop(key, None)


class Immediate(Plain):
    """A new backend that never waits, and says so in its own class."""

    @property
    def times_out_by_itself(self) -> bool:
        return True

    @property
    def immediate(self) -> Immediate:
        return self


class MemorySubclass(MemoryStore):
    pass


@get("/")
def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


def test_a_store_declares_nothing_unless_it_says_so() -> None:
    store = Plain()
    assert store.times_out_by_itself is False
    assert store.immediate is None


def test_the_memory_store_never_waits_but_a_subclass_is_not_trusted() -> None:
    memory = MemoryStore()
    assert memory.times_out_by_itself is True
    assert memory.immediate is memory
    subclass = MemorySubclass()
    assert subclass.times_out_by_itself is False
    assert subclass.immediate is None


def test_the_sqlite_store_bounds_its_calls_but_a_subclass_is_not_trusted(tmp_path: Path) -> None:
    assert SQLiteStore(tmp_path / "s.db").times_out_by_itself is True
    assert SQLiteStore(tmp_path / "s.db").immediate is None

    class Sub(SQLiteStore):
        pass

    assert Sub(tmp_path / "t.db").times_out_by_itself is False


def test_a_wrapper_does_not_inherit_what_its_inner_store_declares() -> None:
    wrapped = EncryptedStore(MemoryStore(), ("k" * 40,))
    assert wrapped.times_out_by_itself is False
    assert wrapped.immediate is None


async def test_the_layer_uses_what_a_new_backend_declares() -> None:
    immediate = Immediate()
    async with run(counter, session={"store": immediate}) as api:
        immediate.calls.clear()  # the start-up check's load is not a request's
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
    assert "load" not in immediate.calls and "save" not in immediate.calls
    plain = Plain()
    async with run(counter, session={"store": plain}) as api:
        plain.calls.clear()
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
    assert plain.calls == ["save", "load", "save"]
