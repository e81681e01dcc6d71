"""MoveSuite: the conformance tests of "moved is not ended" (``Store.tells_already_moved``).

Part of ``StoreSuite`` (see ``porch.testing.suite``), kept apart so each module
reads in one sitting. Two requests of one browser may both regenerate the same
session (a double-submitted login form): one moves it, the other must hear
``ALREADY_MOVED`` rather than False, so porch leaves the winner's cookie in the
browser instead of expiring it. A session that ended (logout, expiry) still
answers False. A store that does not declare the capability is held to the
older answer, False for both.
"""

from __future__ import annotations

import asyncio

from ..session.stores.base import ALREADY_MOVED, Regenerated, Store
from .store_fixtures import MINUTE, SHORT_TTL, created, new_key, wait_until_expired


def moved_already(store: Store) -> Regenerated:
    """What ``regenerate`` of a key a concurrent regenerate moved answers on this store."""
    return ALREADY_MOVED if store.tells_already_moved else False


class MoveSuite:
    """``regenerate`` tells a session moved by a concurrent regenerate from one that ended."""

    async def test_tells_already_moved_is_a_plain_answer(self, store: Store) -> None:
        assert type(store.tells_already_moved) is bool

    async def test_a_second_regenerate_of_a_moved_key_says_already_moved_and_writes_nothing(
        self, store: Store
    ) -> None:
        """The loser of a double-submitted login: it neither moves nor merges anything."""
        old, winner, loser = new_key(), new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, winner, data, MINUTE) is True
        answer = await store.regenerate(old, loser, {**data, "planted": True}, MINUTE)
        assert answer is not ALREADY_MOVED or store.tells_already_moved, (
            f"{type(store).__name__}.regenerate() answered ALREADY_MOVED: declare "
            "tells_already_moved = True so porch relies on it"
        )
        assert answer is moved_already(store)
        assert await store.load(loser) is None
        assert await store.load(winner) == data
        assert await store.load(old) is None

    async def test_concurrent_regenerates_of_one_session_move_it_once(self, store: Store) -> None:
        """Two and three requests of one browser regenerate at once: one wins, the others
        hear ALREADY_MOVED, and only the winner's key holds the session, with its data."""
        for round_ in range(10):
            racers = 2 + round_ % 2
            old, targets = new_key(), [new_key() for _ in range(racers)]
            await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
            answers = await asyncio.gather(
                *(
                    store.regenerate(old, target, created(user="ada", racer=n), MINUTE)
                    for n, target in enumerate(targets)
                )
            )
            assert answers.count(True) == 1
            assert [answer for answer in answers if answer is not True] == [
                moved_already(store)
            ] * (racers - 1)
            winner = answers.index(True)
            loaded = [await store.load(target) for target in targets]
            assert loaded[winner] == created(user="ada", racer=winner)
            assert [entry for entry in loaded if entry is not None] == [loaded[winner]]
            assert await store.load(old) is None

    async def test_a_moved_session_logged_out_with_the_old_id_has_ended(self, store: Store) -> None:
        """Moved, then a logout carrying the old id followed the move: the session ended, so
        a regenerate still in flight with the old id hears False (porch expires its cookie)."""
        old, new, late = new_key(), new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, MINUTE) is True
        await store.destroy(old)
        answer = await store.regenerate(old, late, data, MINUTE)
        if store.destroy_follows_moves:
            assert answer is False
        else:
            assert not answer
        assert await store.load(late) is None

    async def test_a_move_is_told_only_while_its_marker_lives(self, store: Store) -> None:
        """Once the moved session's ttl has passed, the old key is simply gone: False."""
        old, new, probe, late = new_key(), new_key(), new_key(), new_key()
        await store.save(old, created(user="ada"), deleted=(), ttl=MINUTE)
        data = await store.load(old)
        assert data is not None
        assert await store.regenerate(old, new, data, SHORT_TTL) is True
        await store.save(probe, created(), deleted=(), ttl=SHORT_TTL)  # expires after the marker
        await wait_until_expired(store, probe)
        assert await store.regenerate(old, late, data, MINUTE) is False
        assert await store.load(late) is None
