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
import datetime
import decimal
import enum
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ..errors import UnserializableValue
from ..session.stores.base import CREATED, SEEN, USER, SessionInfo, Store

MINUTE = 60
SHORT_TTL = 1  # seconds: the shortest ttl a store receives
EXPIRY_TIMEOUT = 3.0  # seconds allowed for a SHORT_TTL entry to disappear
POLL_INTERVAL = 0.05


def new_key() -> str:
    """A fresh key shaped like the ones porch sends: the SHA-256 hex digest of an id."""
    return secrets.token_hex(32)


def created(at: float = 1_000.0, /, **fields: Any) -> dict[str, Any]:
    """The changes of a brand-new session: only a save carrying CREATED may create an entry."""
    return {CREATED: at, **fields}


async def wait_until_expired(store: Store, key: str) -> None:
    """Poll until ``key`` no longer loads; fail if it outlives its ttl by far."""
    deadline = time.monotonic() + EXPIRY_TIMEOUT
    while await store.load(key) is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"an entry saved with ttl={SHORT_TTL}s still loads after {EXPIRY_TIMEOUT}s")
        await asyncio.sleep(POLL_INTERVAL)


def exact_types(value: Any) -> Any:
    """``value`` with each part's exact type beside it: ``==`` alone equates 1, 1.0 and True."""
    if type(value) is dict:
        return {name: exact_types(item) for name, item in value.items()}
    if type(value) is list:
        return [exact_types(item) for item in value]
    return (type(value).__name__, value)


class _Colour(enum.Enum):
    RED = "red"


class _Text(str):
    pass


# Values orjson would encode, but that would come back as another type (or, for
# the last ones, not at all): a store refuses each before writing anything.
CHANGES_TYPE: dict[str, Callable[[], Any]] = {
    "datetime": lambda: datetime.datetime(2026, 1, 2, 3, 4, 5),
    "date": lambda: datetime.date(2026, 1, 2),
    "uuid": lambda: uuid.UUID(int=7),
    "enum": lambda: _Colour.RED,
    "str subclass": lambda: _Text("text"),
    "tuple": lambda: (1, 2),
    "nested tuple": lambda: {"pair": [(1, 2)]},
    "nan": lambda: float("nan"),
    "infinity": lambda: float("inf"),
    "int over 64 bits": lambda: 2**63,
    "int dict key": lambda: {1: "one"},
    "decimal": lambda: decimal.Decimal("1.5"),
    "set": lambda: {1},
    "bytes": lambda: b"raw",
}


class StoreSuite:
    """The Store contract as tests. Subclass it and provide a ``store`` fixture (opened, empty)."""

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
        await store.regenerate(old, new, data, MINUTE)
        assert await store.load(new) == created(cart=[1, 2])
        assert await store.load(old) is None
        await store.save(old, {"cart": []}, deleted=(), ttl=MINUTE)  # a request in flight
        assert await store.load(old) is None

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


class OptionalStoreSuite:
    """The optional Store methods as tests: ``count``, ``purge``, ``destroy_user``, ``sessions_of``.

    Add it beside ``StoreSuite`` when your store implements them (every built-in
    store does): ``class TestMyStore(StoreSuite, OptionalStoreSuite)``.
    """

    async def test_count_and_purge_see_only_live_sessions(self, store: Store) -> None:
        short, long = new_key(), new_key()
        await store.save(short, created(), deleted=(), ttl=SHORT_TTL)
        await store.save(long, created(), deleted=(), ttl=MINUTE)
        assert await store.count() == 2
        await wait_until_expired(store, short)
        purged = await store.purge()
        assert isinstance(purged, int)
        assert purged >= 0  # a store whose backend expires entries itself may report 0
        assert await store.count() == 1
        assert await store.load(long) is not None

    async def test_count_of_an_empty_store_is_zero(self, store: Store) -> None:
        assert await store.count() == 0
        key = new_key()
        await store.save(key, created(), deleted=(), ttl=MINUTE)
        await store.destroy(key)
        assert await store.count() == 0

    async def test_regenerate_keeps_the_user_index_right(self, store: Store) -> None:
        old, new = new_key(), new_key()
        await store.save(old, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        await store.regenerate(old, new, data, MINUTE)
        assert [info.key for info in await store.sessions_of("ada")] == [new]

    async def test_sessions_of_lists_a_users_sessions_oldest_first(self, store: Store) -> None:
        newest, oldest, middle, stranger = new_key(), new_key(), new_key(), new_key()
        for key, at in ((newest, 3_000.0), (oldest, 1_000.0), (middle, 2_000.0)):
            await store.save(
                key, created(at, **{USER: "ada", SEEN: at + 5}), deleted=(), ttl=MINUTE
            )
        await store.save(stranger, created(**{USER: "bob"}), deleted=(), ttl=MINUTE)
        assert await store.sessions_of("ada") == [
            SessionInfo(key=oldest, created=1_000.0, last_seen=1_005.0),
            SessionInfo(key=middle, created=2_000.0, last_seen=2_005.0),
            SessionInfo(key=newest, created=3_000.0, last_seen=3_005.0),
        ]

    async def test_a_user_without_sessions_has_none(self, store: Store) -> None:
        assert await store.sessions_of("nobody") == []
        assert await store.destroy_user("nobody") == 0

    async def test_a_numeric_user_id_and_its_string_are_one_user(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(**{USER: 7}), deleted=(), ttl=MINUTE)
        assert [info.key for info in await store.sessions_of("7")] == [key]
        assert [info.key for info in await store.sessions_of(7)] == [key]

    async def test_destroy_user_logs_out_everywhere_but_the_kept_session(
        self, store: Store
    ) -> None:
        here, phone, laptop, other_user = new_key(), new_key(), new_key(), new_key()
        for key in (here, phone, laptop):
            await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        await store.save(other_user, created(**{USER: "bob"}), deleted=(), ttl=MINUTE)
        assert await store.destroy_user("ada", keep=here) == 2
        assert await store.load(phone) is None
        assert await store.load(laptop) is None
        assert await store.load(here) is not None
        assert await store.load(other_user) is not None
        assert [info.key for info in await store.sessions_of("ada")] == [here]
        await store.save(phone, {"a": 1}, deleted=(), ttl=MINUTE)  # a request in flight
        assert await store.load(phone) is None

    async def test_destroy_user_without_keep_deletes_them_all(self, store: Store) -> None:
        keys = [new_key() for _ in range(3)]
        for key in keys:
            await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        assert await store.destroy_user("ada") == 3
        assert [await store.load(key) for key in keys] == [None, None, None]
        assert await store.sessions_of("ada") == []

    async def test_destroy_takes_the_session_out_of_the_index(self, store: Store) -> None:
        gone, kept = new_key(), new_key()
        for key in (gone, kept):
            await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        await store.destroy(gone)
        assert [info.key for info in await store.sessions_of("ada")] == [kept]
        assert await store.destroy_user("ada") == 1

    async def test_rebinding_moves_the_session_to_the_new_user(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        await store.save(key, {USER: "bob"}, deleted=(), ttl=MINUTE)
        assert await store.sessions_of("ada") == []
        assert [info.key for info in await store.sessions_of("bob")] == [key]
        assert await store.destroy_user("ada") == 0
        assert await store.load(key) is not None

    async def test_unbinding_takes_the_session_out_of_the_index(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        await store.save(key, {USER: None}, deleted=(), ttl=MINUTE)
        assert await store.sessions_of("ada") == []
        assert await store.load(key) == created(**{USER: None})

    async def test_other_saves_keep_the_user_binding(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        await store.save(key, {"theme": "dark"}, deleted=(), ttl=MINUTE)
        await store.touch(key, MINUTE)
        assert [info.key for info in await store.sessions_of("ada")] == [key]

    async def test_the_index_does_not_outlive_the_sessions(self, store: Store) -> None:
        key = new_key()
        await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=SHORT_TTL)
        assert [info.key for info in await store.sessions_of("ada")] == [key]
        await wait_until_expired(store, key)
        assert await store.sessions_of("ada") == []
        assert await store.destroy_user("ada") == 0
