"""porch/session/encryption.py: session values sealed at rest with AES-256-GCM.

The first tests take ``EncryptedStore`` on its own (sealing, opening, rotation,
tampering); the rest run it through the real server, and the conformance suite
checks that the wrapper keeps every guarantee of the Store contract.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from porch import get, run
from porch.context import Context
from porch.errors import ConfigError, CorruptSession, UnserializableValue
from porch.session.cookie import Signer, session_key
from porch.session.encryption import NONCE_BYTES, PREFIX, EncryptedStore, derive_key
from porch.session.stores import CREATED, SEEN, USER, MemoryStore
from porch.testing import AsyncApi, OptionalStoreSuite, StoreSuite

OLD, NEW = "o" * 40, "n" * 40
KEY = session_key("an-id")
MINUTE = 60


@get("/put/:size")
def put(ctx: Context) -> dict[str, Any]:
    ctx.session["blob"] = "x" * int(ctx.params["size"])
    return {"ok": True}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


def key_of(api: AsyncApi) -> str:
    """The store key of this browser's session: SHA-256 of the id in the signed cookie."""
    signed = api.cookies["session"]
    return session_key(signed.rpartition(".")[0])


def flipped(sealed: str, at: int) -> str:
    """The sealed value with one bit of its decoded bytes flipped at ``at``."""
    raw = bytearray(base64.urlsafe_b64decode(sealed.removeprefix(PREFIX)))
    raw[at] ^= 1
    return PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode()


# --- sealing and opening one value ---


@pytest.mark.parametrize("value", ["text", 7, 2.5, True, None, [1, "two"], {"nested": {"a": [1]}}])
def test_every_json_value_round_trips(value: Any) -> None:
    store = EncryptedStore(MemoryStore(), (NEW,))
    sealed = store.seal(KEY, "field", value)
    assert isinstance(sealed, str) and sealed.startswith(PREFIX)
    assert store.open_value(KEY, "field", sealed) == value


def test_the_same_value_seals_differently_every_time() -> None:
    """A fresh nonce per value: equal values in two sessions cannot be told equal."""
    store = EncryptedStore(MemoryStore(), (NEW,))
    first, second = store.seal(KEY, "f", "same"), store.seal(KEY, "f", "same")
    assert first != second
    assert store.open_value(KEY, "f", first) == store.open_value(KEY, "f", second) == "same"


def test_porchs_own_fields_stay_plain_for_the_store_to_read() -> None:
    store = EncryptedStore(MemoryStore(), (NEW,))
    for name, value in ((CREATED, 1.5), (SEEN, 2.5), (USER, "ada")):
        assert store.seal(KEY, name, value) == value
        assert store.open_value(KEY, name, value) == value


def test_a_value_seals_with_the_first_secret_and_opens_with_any() -> None:
    old_only = EncryptedStore(MemoryStore(), (OLD,))
    rotated = EncryptedStore(MemoryStore(), (NEW, OLD))
    new_only = EncryptedStore(MemoryStore(), (NEW,))
    sealed_before = old_only.seal(KEY, "f", "kept")
    assert rotated.open_value(KEY, "f", sealed_before) == "kept"  # rotation keeps sessions
    sealed_after = rotated.seal(KEY, "f", "new")
    assert new_only.open_value(KEY, "f", sealed_after) == "new"  # sealed with NEW, the first
    with pytest.raises(CorruptSession):
        new_only.open_value(KEY, "f", sealed_before)  # OLD retired: its values are gone
    with pytest.raises(CorruptSession):
        old_only.open_value(KEY, "f", sealed_after)


def test_a_value_opens_only_for_its_own_session_and_field() -> None:
    store = EncryptedStore(MemoryStore(), (NEW,))
    sealed = store.seal(KEY, "card", "4111")
    for key, name in ((session_key("another-id"), "card"), (KEY, "other")):
        with pytest.raises(CorruptSession, match="does not decrypt"):
            store.open_value(key, name, sealed)


def test_any_tampered_byte_is_a_corrupt_session_never_a_wrong_value() -> None:
    store = EncryptedStore(MemoryStore(), (NEW,))
    sealed = store.seal(KEY, "f", {"admin": False})
    length = len(base64.urlsafe_b64decode(sealed.removeprefix(PREFIX)))
    for at in (0, NONCE_BYTES - 1, NONCE_BYTES, length // 2, length - 1):  # nonce, body, tag
        with pytest.raises(CorruptSession):
            store.open_value(KEY, "f", flipped(sealed, at))


@pytest.mark.parametrize(
    "stored",
    ["plain", 42, None, PREFIX, PREFIX + "!!not base64!!", PREFIX + "AAAA", "enc2:" + "A" * 40],
)
def test_a_value_this_app_did_not_seal_is_a_corrupt_session(stored: Any) -> None:
    store = EncryptedStore(MemoryStore(), (NEW,))
    with pytest.raises(CorruptSession, match="does not decrypt"):
        store.open_value(KEY, "f", stored)


def test_the_key_is_derived_for_this_purpose_only() -> None:
    """Not the secret itself and not the cookie-signing key: one leak does not give the other."""
    key = derive_key(NEW)
    assert len(key) == 32 and key != NEW.encode()[:32]
    assert key == derive_key(NEW) and key != derive_key(OLD)
    assert key not in Signer((NEW,), purpose="porch.session")._keys


def test_no_secret_is_a_start_up_error() -> None:
    with pytest.raises(ConfigError, match="session secret"):
        EncryptedStore(MemoryStore(), ())


async def test_a_value_that_is_not_json_writes_nothing_and_names_its_key() -> None:
    inner = MemoryStore()
    store = EncryptedStore(inner, (NEW,))
    await store.save(KEY, {CREATED: 1.0, "a": 1}, (), MINUTE)
    with pytest.raises(UnserializableValue) as caught:
        await store.save(KEY, {"a": 2, "bad": object()}, (), MINUTE)
    assert caught.value.key == "bad"
    assert await store.load(KEY) == {CREATED: 1.0, "a": 1}


async def test_the_inner_store_holds_only_sealed_values_and_regenerate_reseals() -> None:
    inner = MemoryStore()
    store = EncryptedStore(inner, (NEW,))
    await store.save(KEY, {CREATED: 1.0, "secret": "4111"}, (), MINUTE)
    raw = await inner.load(KEY)
    assert raw is not None and "4111" not in str(raw) and raw[CREATED] == 1.0
    moved = session_key("the-new-id")
    await store.regenerate(KEY, moved, {CREATED: 1.0, "secret": "4111"}, MINUTE)
    assert await store.load(KEY) is None
    assert await store.load(moved) == {CREATED: 1.0, "secret": "4111"}  # sealed for its new key


# --- encryption at rest ---


async def test_encrypted_values_are_unreadable_in_the_store_and_read_back_in_the_app() -> None:
    inner = MemoryStore()

    @get("/login")
    def login(ctx: Context) -> str:
        ctx.session["card"] = "4111-1111-1111-1111"
        ctx.session.user = "ada"
        return ctx.csrf

    async with run(login, read, session={"store": inner, "encrypt": True}) as api:
        assert (await api.get("/login")).status == 200
        raw = await inner.load(key_of(api))
        assert raw is not None
        assert raw["card"].startswith("enc1:") and "4111" not in str(raw)
        assert raw["$csrf"].startswith("enc1:")
        assert raw[USER] == "ada"  # plain: the store's per-user index needs it
        assert (await api.get("/read")).body == {"card": "4111-1111-1111-1111"}
        assert await inner.destroy_user("ada") == 1  # log out everywhere still works


async def test_a_sealed_value_moved_or_edited_in_the_store_is_a_new_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = MemoryStore()
    async with run(put, read, session={"store": inner, "encrypt": True}) as victim:
        await victim.get("/put/10")
        stolen = (await inner.load(key_of(victim)))["blob"]  # type: ignore[index]
        attacker = AsyncApi(type(victim.client)(base_url=victim.url), victim.url)
        try:
            await attacker.get("/put/3")
            # the victim's sealed value copied into the attacker's entry does not open there
            await inner.save(key_of(attacker), {"blob": stolen}, (), 60)
            assert (await attacker.get("/read")).body == {}
            assert "does not decrypt" in caplog.text
            # a plain value written into an encrypted store is refused the same way
            await inner.save(key_of(victim), {"blob": "plain"}, (), 60)
            assert (await victim.get("/read")).body == {}
        finally:
            await attacker.client.aclose()


async def test_encryption_keys_rotate_with_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = MemoryStore()
    old, new = "o" * 40, "n" * 40
    monkeypatch.setenv("SESSION_ENCRYPT", "true")
    async with run(put, read, secret=old, session={"store": inner}) as api:
        await api.get("/put/7")
        jar = dict(api.cookies)
    async with run(put, read, secret=f"{new},{old}", session={"store": inner}) as api:
        api.cookies.update(jar)
        assert (await api.get("/read")).body == {"blob": "x" * 7}
    async with run(put, read, secret=new, session={"store": inner}) as api:
        api.cookies.update(jar)
        assert (await api.get("/read")).body == {}  # old secret gone: cookie and value both die


async def test_without_the_option_values_are_stored_as_plain_json() -> None:
    inner = MemoryStore()
    async with run(put, session={"store": inner}) as api:
        await api.get("/put/3")
        assert (await inner.load(key_of(api))) is not None
        assert (await inner.load(key_of(api)))["blob"] == "xxx"  # type: ignore[index]


class TestEncryptedStore(StoreSuite, OptionalStoreSuite):
    """The wrapper keeps every guarantee of the Store contract (per-key writes, expiry...)."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[EncryptedStore]:
        store = EncryptedStore(MemoryStore(), ("k" * 40,))
        await store.open()
        yield store
        await store.close()
