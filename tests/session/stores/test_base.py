"""The store author's helpers beside the ``Store`` contract (the contract itself is checked on
every store by ``porch.testing.StoreSuite``, its capabilities in test_capabilities.py)."""

from __future__ import annotations

import pickle
import time
from collections.abc import Collection, Mapping
from typing import Any

import pytest

from porch.errors import CorruptSession, SessionError, UnserializableValue
from porch.session.encryption import EncryptedStore
from porch.session.stores import (
    CREATED,
    SEEN,
    USER,
    MemoryStore,
    Store,
    decode_fields,
    decode_value,
    encode_changes,
    innermost,
    user_key,
)
from porch.session.stores.base import whole_seconds
from porch.testing.suite import MINUTE, new_key


class Minimal(Store):
    """The four required methods and nothing else."""

    async def load(self, key: str) -> dict[str, Any] | None:
        return None

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        pass

    async def touch(self, key: str, ttl: int) -> None:
        pass

    async def destroy(self, key: str) -> None:
        pass


def test_changes_are_encoded_before_any_io_and_a_bad_one_is_named() -> None:
    assert encode_changes({"a": [1, "b"], "$user": None}) == {"a": b'[1,"b"]', "$user": b"null"}
    with pytest.raises(UnserializableValue) as raised:
        encode_changes({"fine": 1, "when": object()})
    assert raised.value.key == "when"


def test_a_stored_value_that_is_not_json_is_corrupt_and_never_unpickled() -> None:
    assert decode_value(b'{"a": 1}', key="k" * 64) == {"a": 1}
    assert decode_value('"text"', key="k" * 64) == "text"
    with pytest.raises(CorruptSession, match=r"kkkkkkkkkkkk\.\.\. holds a value that is not JSON"):
        decode_value(pickle.dumps({"a": 1}), key="k" * 64)
    assert decode_fields({"a": b"1", "b": b"[]"}, key="k") == {"a": 1, "b": []}
    with pytest.raises(CorruptSession):
        decode_fields({"a": b"1", "b": b"\x80not json"}, key="k")


def test_a_user_id_and_its_string_are_one_user() -> None:
    assert user_key(7) == user_key("7") == "7"


def test_a_ttl_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert [whole_seconds(ttl) for ttl in (0, 0.2, 1, 1.01, 59.5)] == [1, 1, 1, 2, 60]


def test_the_store_that_holds_the_data_is_found_under_every_wrapper() -> None:
    memory = MemoryStore()
    assert innermost(memory) is memory
    assert innermost(EncryptedStore(EncryptedStore(memory, ("k" * 40,)), ("k" * 40,))) is memory


@pytest.mark.parametrize("method", ["count", "purge", "destroy_user", "sessions_of"])
async def test_an_optional_method_left_out_names_the_store_and_the_method(method: str) -> None:
    call = getattr(Minimal(), method)
    arguments = ("ada",) if method in ("destroy_user", "sessions_of") else ()
    with pytest.raises(NotImplementedError, match=rf"Minimal does not implement .*\.{method}\(\)"):
        await call(*arguments)


# --- user ids that are not user ids ---

NOT_USER_IDS = [True, False, 1.0, b"7", 2**64, "\ud800", ["7"]]


@pytest.mark.parametrize("user", NOT_USER_IDS, ids=repr)
def test_user_key_refuses_what_no_session_can_be_bound_to(user: Any) -> None:
    # str() of these names a user too: True is 'True', 1.0 is '1.0', b'7' is "b'7'".
    with pytest.raises(SessionError, match="a user id is a str or an int within 64 bits"):
        user_key(user)
    with pytest.raises(SessionError, match="None is no user"):
        user_key(None)


async def test_log_out_everywhere_with_a_non_id_never_reaches_the_user_it_prints_as(
    each_store: Store,
) -> None:
    await each_store.open()
    now = time.time()
    named = {"None": new_key(), "True": new_key(), "1.0": new_key()}
    for name, key in named.items():
        await each_store.save(key, {CREATED: now, SEEN: now, USER: name}, (), MINUTE)
    assert await each_store.sessions_of(None) == []  # None is nobody, not the user 'None'
    assert await each_store.destroy_user(None) == 0
    for user in (True, 1.0):
        with pytest.raises(SessionError):
            await each_store.sessions_of(user)
        with pytest.raises(SessionError):
            await each_store.destroy_user(user)
    for name, key in named.items():
        assert [info.key for info in await each_store.sessions_of(name)] == [key]
