"""StoreSuite: the conformance tests every session store passes, built-in or your own.

Subclass it in a test module and provide a ``store`` fixture that gives an
opened, empty store::

    from porch.testing import StoreSuite

    class TestMyStore(StoreSuite):
        @pytest.fixture
        async def store(self) -> AsyncIterator[MyStore]:
            store = MyStore()
            await store.open()
            yield store
            await store.close()

The tests are ``async def`` and need pytest-asyncio in auto mode
(``asyncio_mode = "auto"`` under ``[tool.pytest.ini_options]``), or
``pytestmark = pytest.mark.asyncio`` in the module. They use only public
``Store`` methods, so they check what porch relies on and nothing else. Expiry
is checked with real one-second TTLs and polling (a frozen clock cannot fool a
server such as Redis), so the suite takes a few seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ..errors import UnserializableValue
from ..session.stores.base import SEEN, Store
from .move_suite import MoveSuite
from .optional_suite import OptionalStoreSuite
from .store_fixtures import (
    CHANGES_TYPE,
    EXPIRY_TIMEOUT,
    MINUTE,
    POLL_INTERVAL,
    SHORT_TTL,
    created,
    exact_types,
    new_key,
    wait_until_expired,
)

# The helpers and both suites stay importable from here, as they always were.
__all__ = [
    "CHANGES_TYPE",
    "EXPIRY_TIMEOUT",
    "MINUTE",
    "POLL_INTERVAL",
    "SHORT_TTL",
    "OptionalStoreSuite",
    "StoreSuite",
    "created",
    "exact_types",
    "new_key",
    "wait_until_expired",
]


class StoreSuite(MoveSuite):
    """The Store contract as tests. Subclass it and provide a ``store`` fixture (opened, empty).

    It includes ``MoveSuite`` (a concurrent regenerate is not a logout)."""

    # -- load and save --------------------------------------------------------
    async def test_unknown_key_loads_as_none(self, store: Store) -> None:
        assert await store.load(new_key()) is None

    async def test_every_json_type_survives_a_round_trip(self, store: Store) -> None:
        key = new_key()
        values: dict[str, Any] = {
            "text": "héllo 世界 🎉",
            "empty": "",
            "int": 42,
            "big": 2**53,
            "int64 max": 2**63 - 1,
            "int64 min": -(2**63),
            "negative": -7,
            "float": 3.25,
            "whole float": 2.0,
            "tiny float": 5e-324,
            "decimal float": 0.1,
            "true": True,
            "false": False,
            "none": None,
            "list": [1, "two", [3.5, None], {"four": 4}],
            "nested": {"a": {"b": {"c": [True, False]}}, "ü": "ö"},
            "empty_list": [],
            "empty_dict": {},
        }
        await store.save(key, created(**values), deleted=(), ttl=MINUTE)
        loaded = await store.load(key)
        assert loaded == created(**values)
        assert exact_types(loaded) == exact_types(created(**values))  # 2.0 is no 2, True no 1

    @pytest.mark.parametrize("case", sorted(CHANGES_TYPE))
    async def test_a_value_that_would_come_back_as_another_type_is_refused(
        self, store: Store, case: str
    ) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=MINUTE)
        with pytest.raises(UnserializableValue) as raised:
            await store.save(key, {"a": 2, "odd": CHANGES_TYPE[case]()}, deleted=(), ttl=MINUTE)
        assert raised.value.key == "odd"
        assert await store.load(key) == created(a=1)

    async def test_save_applies_only_the_changes(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1, b=2), deleted=(), ttl=MINUTE)
        await store.save(key, {"b": 3}, deleted=("a",), ttl=MINUTE)
        assert await store.load(key) == created(b=3)

    async def test_fields_not_mentioned_are_left_alone(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1, b=2), deleted=(), ttl=MINUTE)
        await store.save(key, {"c": 3}, deleted=(), ttl=MINUTE)
        assert await store.load(key) == created(a=1, b=2, c=3)

    async def test_deleting_a_missing_field_is_harmless(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=("never-set",), ttl=MINUTE)
        assert await store.load(key) == created(a=1)

    async def test_a_value_that_is_not_json_names_its_key_and_changes_nothing(
        self, store: Store
    ) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=MINUTE)
        with pytest.raises(UnserializableValue) as raised:
            await store.save(key, {"a": 2, "widget": object()}, deleted=("a",), ttl=MINUTE)
        assert raised.value.key == "widget"
        assert await store.load(key) == created(a=1)

    async def test_keys_are_independent(self, store: Store) -> None:
        first, second = new_key(), new_key()
        await store.save(first, created(who="first"), deleted=(), ttl=MINUTE)
        await store.save(second, created(who="second"), deleted=(), ttl=MINUTE)
        assert await store.load(first) == created(who="first")
        assert await store.load(second) == created(who="second")

    async def test_a_save_without_created_never_creates_an_entry(self, store: Store) -> None:
        key = new_key()
        await store.save(key, {"a": 1}, deleted=(), ttl=MINUTE)
        assert await store.load(key) is None

    async def test_a_save_after_destroy_does_not_bring_the_session_back(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=MINUTE)
        await store.destroy(key)
        await store.save(key, {"a": 2}, deleted=(), ttl=MINUTE)  # a request that started earlier
        assert await store.load(key) is None

    async def test_destroying_a_missing_key_is_harmless(self, store: Store) -> None:
        await store.destroy(new_key())

    async def test_touch_on_a_missing_key_creates_nothing(self, store: Store) -> None:
        key = new_key()
        await store.touch(key, MINUTE)
        assert await store.load(key) is None

    async def test_touch_records_when_the_session_was_seen(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=MINUTE)
        before = time.time()
        await store.touch(key, MINUTE)
        after = time.time()
        loaded = await store.load(key)
        assert loaded is not None
        assert before - 1 <= loaded.pop(SEEN) <= after + 1  # the store's clock, within a second
        assert loaded == created(a=1)

    async def test_an_entry_is_gone_after_its_ttl(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=SHORT_TTL)
        assert await store.load(key) == created(a=1)
        await wait_until_expired(store, key)

    async def test_touch_slides_the_expiry(self, store: Store) -> None:
        touched, untouched = new_key(), new_key()
        # `touched` is saved first, so without the touch it would expire first.
        await store.save(touched, created(), deleted=(), ttl=SHORT_TTL)
        await store.save(untouched, created(), deleted=(), ttl=SHORT_TTL)
        await store.touch(touched, MINUTE)
        await wait_until_expired(store, untouched)
        assert await store.load(touched) is not None

    async def test_regenerate_moves_the_data_and_the_old_key_stops_working(
        self, store: Store
    ) -> None:
        old, new = new_key(), new_key()
        await store.save(old, created(cart=[1, 2]), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        assert await store.load(new) == created(cart=[1, 2])
        assert await store.load(old) is None
        await store.save(old, {"cart": []}, deleted=(), ttl=MINUTE)  # a request in flight
        assert await store.load(old) is None

    # -- logout is final, against requests that were in flight ------------------
    async def test_regenerate_after_destroy_moves_nothing(self, store: Store) -> None:
        """A slow login request regenerates after a logout destroyed the session."""
        old, new = new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        await store.destroy(old)  # the logout, while the login request ran
        assert await store.regenerate(old, new, data, MINUTE) is False
        assert await store.load(new) is None
        assert await store.load(old) is None

    async def test_regenerate_after_expiry_moves_nothing(self, store: Store) -> None:
        old, new = new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=SHORT_TTL)
        data = await store.load(old)
        assert data is not None
        await wait_until_expired(store, old)
        assert await store.regenerate(old, new, data, MINUTE) is False
        assert await store.load(new) is None
        assert await store.load(old) is None

    async def test_writes_after_expiry_do_not_bring_the_session_back(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=SHORT_TTL)
        await wait_until_expired(store, key)
        await store.save(key, {"a": 2}, deleted=(), ttl=MINUTE)
        await store.touch(key, MINUTE)
        assert await store.load(key) is None

    async def test_touch_after_destroy_does_not_bring_the_session_back(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(a=1), deleted=(), ttl=MINUTE)
        await store.destroy(key)
        await store.touch(key, MINUTE)
        assert await store.load(key) is None

    # -- logout follows a move (Store.destroy_follows_moves) ---------------------
    async def test_after_regenerate_the_old_key_is_no_session_and_moves_no_more(
        self, store: Store
    ) -> None:
        """What regenerate leaves at the old key is never a session: not loaded, not moved."""
        old, new, again = new_key(), new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        assert await store.load(old) is None
        assert not await store.regenerate(old, again, data, MINUTE)  # a second login
        assert await store.load(again) is None
        await store.touch(old, MINUTE)
        await store.save(old, {"user": "eve"}, deleted=(), ttl=MINUTE)
        assert await store.load(old) is None
        assert await store.load(new) == data

    async def test_destroying_the_old_key_after_regenerate_ends_the_new_one(
        self, store: Store
    ) -> None:
        """A logout of the same browser, carrying the old id, lands after a login moved it."""
        old, new = new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        await store.destroy(old)
        assert await store.load(old) is None
        if store.destroy_follows_moves:
            assert await store.load(new) is None
        else:  # the weaker promise of a store that does not declare it (see Store)
            assert await store.load(new) is not None, (
                f"{type(store).__name__}.destroy() followed the move: declare "
                "destroy_follows_moves = True so porch relies on it"
            )

    async def test_destroy_follows_a_chain_of_moves(self, store: Store) -> None:
        """Login, then a step-up that regenerates again, while a logout with the first id
        is still on its way."""
        first, second, third = new_key(), new_key(), new_key()
        await store.save(first, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(first)
        assert data is not None
        assert await store.regenerate(first, second, data, MINUTE) is True
        assert await store.regenerate(second, third, data, MINUTE) is True
        await store.destroy(first)
        ended = store.destroy_follows_moves
        assert [await store.load(key) is None for key in (first, second, third)] == [
            True,
            True,
            ended,
        ]

    async def test_regenerate_racing_destroy_of_the_old_key_leaves_no_session(
        self, store: Store
    ) -> None:
        """Whichever of a login (regenerate) and a logout (destroy) lands first, neither
        key holds a session afterwards."""
        for round_ in range(20):
            old, new = new_key(), new_key()
            await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
            data = await store.load(old)
            assert data is not None
            moving = store.regenerate(old, new, data, MINUTE)
            logging_out = store.destroy(old)
            destroy_first = round_ % 2 == 0
            pair = (logging_out, moving) if destroy_first else (moving, logging_out)
            results = await asyncio.gather(*pair)
            moved = results[1] if destroy_first else results[0]
            assert moved is True or moved is False  # nobody else moved it: never ALREADY_MOVED
            assert await store.load(old) is None
            if store.destroy_follows_moves or not moved:
                assert await store.load(new) is None

    async def test_a_move_is_followed_only_while_the_session_could_live(self, store: Store) -> None:
        """The marker lives as long as the moved session's ttl, not forever: once that has
        passed, a destroy of the old key no longer reaches a session kept alive since."""
        old, new, probe = new_key(), new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, SHORT_TTL) is True
        await store.save(probe, created(), deleted=(), ttl=SHORT_TTL)  # expires after the marker
        await store.touch(new, MINUTE)  # the new session is in use
        await wait_until_expired(store, probe)
        await store.destroy(old)
        assert await store.load(new) is not None

    async def test_concurrent_saves_of_different_fields_all_survive(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(), deleted=(), ttl=MINUTE)
        writers = 50
        await asyncio.gather(
            *(store.save(key, {f"field{n}": n}, deleted=(), ttl=MINUTE) for n in range(writers))
        )
        assert await store.load(key) == created(**{f"field{n}": n for n in range(writers)})

    async def test_concurrent_new_sessions_are_all_kept(self, store: Store) -> None:
        keys = [new_key() for _ in range(50)]
        await asyncio.gather(
            *(store.save(key, created(n=n), deleted=(), ttl=MINUTE) for n, key in enumerate(keys))
        )
        assert [await store.load(key) for key in keys] == [created(n=n) for n in range(50)]

    # -- capabilities (what porch asks the store, never its class) --------------
    async def test_capabilities_are_plain_answers(self, store: Store) -> None:
        """``per_process`` and ``times_out_by_itself`` are booleans (porch's refusals and
        warnings read them); a store that is not per-process says so by omission."""
        assert type(store.per_process) is bool
        assert type(store.times_out_by_itself) is bool

    async def test_immediate_calls_agree_with_the_coroutines(self, store: Store) -> None:
        """A store that offers ``immediate`` gives the session layer the same entries through
        ``load_now`` and ``save_now`` as through ``load`` and ``save``."""
        immediate = store.immediate
        if immediate is None:  # nothing claimed, nothing to hold it to
            return
        key = new_key()
        immediate.save_now(key, created(a=1), (), MINUTE)
        assert await store.load(key) == created(a=1) == immediate.load_now(key)
        await store.save(key, {"b": 2}, deleted=("a",), ttl=MINUTE)
        assert immediate.load_now(key) == created(b=2)
        assert immediate.load_now(new_key()) is None
