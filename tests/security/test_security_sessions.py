"""Session hardening: a size cap with a clear error, and values encrypted at rest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from porch import get, run
from porch.context import Context
from porch.session.cookie import session_key
from porch.session.encryption import EncryptedStore
from porch.session.stores import USER, MemoryStore
from porch.testing import AsyncApi, OptionalStoreSuite, StoreSuite

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

SECRET = "s" * 40


@get("/put/:size")
def put(ctx: Context) -> dict[str, Any]:
    ctx.session["blob"] = "x" * int(ctx.params["size"])
    return {"ok": True}


@get("/add/:name")
def add(ctx: Context) -> dict[str, Any]:
    ctx.session[ctx.params["name"]] = "y" * 1000
    return {"keys": len(ctx.session)}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


def key_of(api: AsyncApi) -> str:
    """The store key of this browser's session: SHA-256 of the id in the signed cookie."""
    signed = api.cookies["session"]
    return session_key(signed.rpartition(".")[0])


# --- max_size ---


async def test_a_session_over_max_size_fails_naming_the_option_and_writes_nothing() -> None:
    store = MemoryStore()
    async with run(put, read, session={"store": store, "max_size": "4kb"}) as api:
        assert (await api.get("/put/1000")).status == 200
        response = await api.get("/put/5000")
        assert response.status == 500
        assert "session.max_size" in response.text and "SESSION_MAX_SIZE" in response.text
        assert (await api.get("/read")).body == {"blob": "x" * 1000}  # the old value stands
        assert await store.count() == 1
        api.cookies.clear()
        assert (await api.get("/put/5000")).status == 500
        assert await store.count() == 1  # a new visitor's oversized session was never created


async def test_the_cap_counts_the_whole_session_not_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SESSION_MAX_SIZE", "3000")
    async with run(add, read) as api:
        assert (await api.get("/add/a")).status == 200
        assert (await api.get("/add/b")).status == 200
        response = await api.get("/add/c")  # 1 KB more, but the third
        assert response.status == 500 and "max_size" in response.text
        assert sorted((await api.get("/read")).body) == ["a", "b"]


async def test_the_default_cap_is_64_kib_and_production_hides_the_message() -> None:
    async with run(put, env="production", secret=SECRET) as api:
        assert (await api.get(f"/put/{60 * 1024}")).status == 200
        response = await api.get(f"/put/{65 * 1024}")
        assert response.status == 500 and response.text == "Internal Server Error"


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
