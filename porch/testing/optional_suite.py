"""OptionalStoreSuite: the conformance tests of the optional Store methods.

``count``, ``purge``, ``destroy_user`` and ``sessions_of``, with the per-user
index they need. Use it beside ``StoreSuite`` (see ``porch.testing.suite``).
"""

from __future__ import annotations

import asyncio

from ..session.stores.base import SEEN, USER, SessionInfo, Store
from .store_fixtures import MINUTE, SHORT_TTL, created, new_key, wait_until_expired


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
        assert await store.regenerate(old, new, data, MINUTE) is True
        assert [info.key for info in await store.sessions_of("ada")] == [new]

    async def test_what_regenerate_leaves_at_the_old_key_is_not_a_session(
        self, store: Store
    ) -> None:
        """count() and sessions_of() see the moved session once; a logout that follows the
        move leaves neither a session nor anything counted as one."""
        old, new = new_key(), new_key()
        await store.save(old, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        assert await store.count() == 1
        assert [info.key for info in await store.sessions_of("ada")] == [new]
        await store.purge()
        assert await store.count() == 1
        await store.destroy(new)
        assert await store.count() == 0
        assert await store.sessions_of("ada") == []
        await store.destroy(old)  # the marker, if any, leads to nothing now
        assert await store.count() == 0

    async def test_destroy_user_after_regenerate_ends_the_moved_session(self, store: Store) -> None:
        old, new = new_key(), new_key()
        await store.save(old, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        assert await store.destroy_user("ada") == 1  # one session, however often it moved
        assert await store.load(new) is None
        assert await store.sessions_of("ada") == []
        assert await store.count() == 0

    async def test_regenerate_after_destroy_user_moves_nothing(self, store: Store) -> None:
        """ "Log out everywhere" lands while a slow request of that user regenerates."""
        old, new = new_key(), new_key()
        await store.save(old, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.destroy_user("ada") == 1
        assert await store.regenerate(old, new, data, MINUTE) is False
        assert await store.load(new) is None
        assert await store.sessions_of("ada") == []

    async def test_a_late_regenerate_after_destroy_user_ended_the_moved_session_revives_nothing(
        self, store: Store
    ) -> None:
        """Login moved the session, "log out everywhere" ended it, and a second login of the
        same browser, still carrying the old id, lands last: nothing moves or comes back."""
        old, new, late = new_key(), new_key(), new_key()
        await store.save(old, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        assert await store.destroy_user("ada") == 1
        assert not await store.regenerate(old, late, data, MINUTE)
        assert [await store.load(key) for key in (old, new, late)] == [None, None, None]
        assert await store.sessions_of("ada") == []

    async def test_regenerate_racing_destroy_user_leaves_the_user_logged_out(
        self, store: Store
    ) -> None:
        """Whichever runs first, no session of the user survives "log out everywhere"."""
        for round_ in range(20):
            old, new = new_key(), new_key()
            await store.save(old, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
            data = await store.load(old)
            assert data is not None
            moving = store.regenerate(old, new, data, MINUTE)
            logging_out = store.destroy_user("ada")
            pair = (moving, logging_out) if round_ % 2 else (logging_out, moving)
            await asyncio.gather(*pair)
            assert await store.load(new) is None
            assert await store.load(old) is None
            assert await store.sessions_of("ada") == []

    async def test_writes_in_flight_after_logout_do_not_index_the_session_again(
        self, store: Store
    ) -> None:
        destroyed, everywhere = new_key(), new_key()
        await store.save(destroyed, created(**{USER: "ada"}), deleted=(), ttl=MINUTE)
        await store.save(everywhere, created(**{USER: "bob"}), deleted=(), ttl=MINUTE)
        await store.destroy(destroyed)
        await store.destroy_user("bob")
        for key, user in ((destroyed, "ada"), (everywhere, "bob")):
            await store.save(key, {USER: user, "a": 1}, deleted=(), ttl=MINUTE)
            await store.touch(key, MINUTE)
            assert await store.load(key) is None
            assert await store.sessions_of(user) == []
            assert await store.destroy_user(user) == 0

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
