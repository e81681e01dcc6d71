"""The session layer, over the real server: DESIGN §1.4 and §3 as a browser sees them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

import pytest

from porch import get, post, run, status
from porch.context import Context
from porch.errors import CorruptSession
from porch.option_types import SessionSettings
from porch.session.cookie import Signer
from porch.session.stores import MemoryStore
from porch.testing import AsyncApi

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

SECRET = "s" * 40


class CountingStore(MemoryStore):
    """A real memory store that also counts the calls the session layer makes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    async def load(self, key: str) -> dict[str, Any] | None:
        self.calls.append("load")
        return await super().load(key)

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        self.calls.append("save")
        await super().save(key, changes, deleted, ttl)

    async def touch(self, key: str, ttl: int) -> None:
        self.calls.append("touch")
        await super().touch(key, ttl)

    def stored_keys(self) -> list[str]:
        return list(self._entries)


@get("/")
def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


@get("/nothing")
def nothing(ctx: Context) -> str:
    return "no session here"


def session_cookie(api: AsyncApi) -> str:
    value = api.cookies.get("session")
    assert value is not None, "the app set no session cookie"
    return value


def csrf_off(**session: Any) -> dict[str, Any]:
    return {"session": session, "security": {"csrf": False}, "secret": SECRET}


async def test_counter_climbs_per_browser() -> None:
    async with run(counter) as api:
        assert [(await api.get("/")).body["views"] for _ in range(3)] == [1, 2, 3]


async def test_two_browsers_have_separate_sessions() -> None:
    app = run(counter)
    async with app as first:
        await first.get("/")
        await first.get("/")
        second = type(first)(
            type(first.client)(base_url=first.url), first.url
        )  # a second browser: no cookies
        try:
            assert (await second.get("/")).body == {"views": 1}
        finally:
            await second.client.aclose()
        assert (await first.get("/")).body == {"views": 3}


async def test_a_visitor_who_never_writes_gets_no_cookie_and_no_entry() -> None:
    store = CountingStore()
    async with run(read, nothing, session={"store": store}) as api:
        response = await api.get("/read")
        assert response.body == {}
        assert "set-cookie" not in response.headers
        assert (await api.get("/nothing")).status == 200
    assert len(store) == 0
    assert store.calls == []


async def test_cookie_is_signed_httponly_lax_and_path_root() -> None:
    async with run(counter) as api:
        header = (await api.get("/")).headers["set-cookie"]
    assert header.startswith("session=")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header  # development over http


async def test_cookie_is_secure_in_production() -> None:
    async with run(counter, env="production", secret=SECRET) as api:
        response = await api.get("/")
        assert "Secure" in response.headers["set-cookie"]
        assert (await api.get("/")).body == {"views": 2}


async def test_tampered_cookie_starts_a_new_session_without_a_store_round_trip() -> None:
    store = CountingStore()
    async with run(counter, session={"store": store}) as api:
        await api.get("/")
        await api.get("/")
        good = session_cookie(api)
        session_id, _, signature = good.rpartition(".")
        tampered = f"{session_id}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        store.calls.clear()
        api.cookies.set("session", tampered, domain="127.0.0.1")
        response = await api.get("/")
        assert response.status == 200
        assert response.body == {"views": 1}
        assert store.calls == ["save"]  # the new session's write; no load for the forged id
        assert session_cookie(api) not in (good, tampered)


@pytest.mark.parametrize("garbage", ["", ".", "abc", "a.b.c", "x" * 5000, "%ff%fe", "é.é"])
async def test_malformed_cookies_are_new_sessions_not_errors(garbage: str) -> None:
    async with run(counter) as api:
        response = await api.get("/", headers={"cookie": f"session={garbage}".encode()})
        assert response.status == 200
        assert response.body == {"views": 1}


async def test_strict_mode_never_adopts_an_unknown_id() -> None:
    store = CountingStore()
    chosen_id = "attacker-chosen-id"
    forged = Signer((SECRET,), purpose="porch.session").sign(chosen_id)
    async with run(counter, secret=SECRET, session={"store": store}) as api:
        response = await api.get("/", headers={"cookie": f"session={forged}"})
        assert response.body == {"views": 1}
        issued = response.cookies["session"]
    assert issued.rpartition(".")[0] != chosen_id
    assert hashlib.sha256(chosen_id.encode()).hexdigest() not in store.stored_keys()


async def test_store_keys_are_hashes_of_ids_never_raw_ids() -> None:
    store = CountingStore()
    async with run(counter, session={"store": store}) as api:
        await api.get("/")
        session_id = session_cookie(api).rpartition(".")[0]
    assert len(session_id) >= 43  # 256 random bits, url-safe base64
    assert store.stored_keys() == [hashlib.sha256(session_id.encode()).hexdigest()]
    assert session_id not in store.stored_keys()


async def test_a_request_that_changes_nothing_writes_nothing() -> None:
    store = CountingStore()
    async with run(counter, read, session={"store": store}) as api:
        await api.get("/")
        store.calls.clear()
        for _ in range(5):
            assert (await api.get("/read")).body == {"views": 1}
    assert store.calls == ["load"] * 5


async def test_expiry_is_touched_at_most_once_per_tenth_of_max_age() -> None:
    store = CountingStore()
    async with run(counter, read, session={"store": store, "max_age": 1}) as api:
        await api.get("/")
        store.calls.clear()
        await api.get("/read")
        assert "touch" not in store.calls  # well within max_age / 10 of the write
        await asyncio.sleep(0.15)
        await api.get("/read")
        await api.get("/read")
    assert store.calls.count("touch") == 1


async def test_values_mutated_in_place_are_saved() -> None:
    @get("/add/:item")
    def add(ctx: Context) -> list[str]:
        cart: list[str] = ctx.session.setdefault("cart", [])
        cart.append(ctx.params["item"])
        return cart

    async with run(add) as api:
        await api.get("/add/apple")
        await api.get("/add/pear")
        assert (await api.get("/add/fig")).body == ["apple", "pear", "fig"]


async def test_session_id_exists_from_the_first_write_in_that_request() -> None:
    @get("/id")
    def ids(ctx: Context) -> dict[str, Any]:
        before = ctx.session.id
        ctx.session["x"] = 1
        return {"before": before, "after": ctx.session.id}

    async with run(ids) as api:
        body = (await api.get("/id")).body
        assert body["before"] is None
        assert body["after"] == session_cookie(api).rpartition(".")[0]
        assert (await api.get("/id")).body["before"] == body["after"]


async def test_concurrent_requests_changing_different_keys_both_keep_their_change() -> None:
    @get("/slow/:name")
    async def slow(ctx: Context) -> str:
        ctx.session.get("start")  # loaded before the other request writes
        await asyncio.sleep(0.2)
        ctx.session[ctx.params["name"]] = True
        return "ok"

    @get("/start")
    def start(ctx: Context) -> str:
        ctx.session["start"] = True
        return "ok"

    async with run(slow, start, read) as api:
        await api.get("/start")
        await asyncio.gather(*(api.get(f"/slow/key{number}") for number in range(5)))
        body = (await api.get("/read")).body
    assert body == {"start": True, **{f"key{number}": True for number in range(5)}}


async def test_regenerate_keeps_data_under_a_new_id_and_the_old_id_stops_working() -> None:
    store = CountingStore()

    @get("/login")
    def login(ctx: Context) -> str:
        ctx.session.regenerate()
        ctx.session["user"] = "ada"
        return "ok"

    async with run(counter, login, read, session={"store": store}) as api:
        await api.get("/")
        old = session_cookie(api)
        response = await api.get("/login")
        new = session_cookie(api)
        assert "session=" in response.headers["set-cookie"]
        assert new != old
        assert (await api.get("/read")).body == {"views": 1, "user": "ada"}
        replay = await api.get("/read", headers={"cookie": f"session={old}"})
        assert replay.body == {}
    assert len(store) == 1


async def test_destroy_deletes_server_side_and_expires_the_cookie() -> None:
    store = CountingStore()

    @get("/logout")
    def logout(ctx: Context) -> str:
        ctx.session.destroy()
        return "bye"

    async with run(counter, logout, read, session={"store": store}) as api:
        await api.get("/")
        old = session_cookie(api)
        response = await api.get("/logout")
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert len(store) == 0
        assert "session" not in api.cookies
        replay = await api.get("/read", headers={"cookie": f"session={old}"})
        assert replay.body == {}


async def test_flash_after_destroy_starts_a_new_session() -> None:
    @get("/logout")
    def logout(ctx: Context) -> str:
        ctx.session.destroy()
        ctx.session.flash("Logged out")
        return "bye"

    @get("/next")
    def next_page(ctx: Context) -> list[dict[str, Any]]:
        return ctx.session.flashes()

    async with run(counter, logout, next_page) as api:
        await api.get("/")
        old = session_cookie(api)
        await api.get("/logout")
        assert session_cookie(api) != old
        assert (await api.get("/next")).body == [{"message": "Logged out", "kind": "info"}]


async def test_logout_is_final_against_a_slower_request_that_started_before() -> None:
    store = CountingStore()
    loaded = asyncio.Event()
    logged_out = asyncio.Event()

    @get("/slow")
    async def slow(ctx: Context) -> str:
        ctx.session.get("views")
        loaded.set()
        await logged_out.wait()
        ctx.session["late"] = "write"
        return "late"

    @get("/logout")
    def logout(ctx: Context) -> str:
        ctx.session.destroy()
        return "bye"

    async with run(counter, slow, logout, read, session={"store": store}) as api:
        await api.get("/")
        cookie = {"cookie": f"session={session_cookie(api)}"}
        slow_request = asyncio.create_task(api.get("/slow", headers=cookie))
        await loaded.wait()
        await api.get("/logout", headers=cookie)
        logged_out.set()
        assert (await slow_request).status == 200
        assert len(store) == 0  # the slow request's save was dropped
        assert (await api.get("/read", headers=cookie)).body == {}


async def test_flash_messages_are_shown_once() -> None:
    @post("/save")
    def save(ctx: Context) -> Any:
        ctx.session.flash("Saved")
        ctx.session.flash("Careful", "warning")
        return status(303).redirect("/show")

    @get("/show")
    def show(ctx: Context) -> list[dict[str, Any]]:
        return ctx.session.flashes()

    async with run(save, show, security={"csrf": False}) as api:
        assert (await api.post("/save")).status == 303
        assert (await api.get("/show")).body == [
            {"message": "Saved", "kind": "info"},
            {"message": "Careful", "kind": "warning"},
        ]
        assert (await api.get("/show")).body == []


async def test_idle_sessions_expire_server_side() -> None:
    store = CountingStore()
    async with run(counter, session={"store": store, "max_age": 1, "absolute_max_age": 60}) as api:
        await api.get("/")
        assert (await api.get("/")).body == {"views": 2}
        deadline = time.monotonic() + 5
        while len(store) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            await store.purge()
        assert len(store) == 0  # gone from the store, not only from the browser
        assert (await api.get("/")).body == {"views": 1}


async def test_absolute_lifetime_ends_even_an_active_session() -> None:
    options: SessionSettings = {"max_age": 1, "absolute_max_age": 2}
    async with run(counter, session=options) as api:
        seen = [(await api.get("/")).body["views"]]
        deadline = time.monotonic() + 6
        while seen[-1] >= len(seen) and time.monotonic() < deadline:
            await asyncio.sleep(
                0.3
            )  # active well within max_age, so only the absolute limit ends it
            seen.append((await api.get("/")).body["views"])
    assert seen[-1] < len(seen), seen


async def test_an_unserializable_value_fails_the_request_naming_the_key() -> None:
    store = CountingStore()

    @get("/bad")
    def bad(ctx: Context) -> str:
        ctx.session["views"] = 99
        ctx.session["when"] = object()
        return "never"

    async with run(counter, bad, read, session={"store": store}) as api:
        await api.get("/")
        response = await api.get("/bad")
        assert response.status == 500
        assert "'when'" in response.text
        assert (await api.get("/read")).body == {"views": 1}  # nothing half-written


async def test_vary_cookie_only_when_the_response_used_the_session() -> None:
    async with run(counter, nothing) as api:
        assert "Cookie" in (await api.get("/")).headers["vary"]
        assert "vary" not in (await api.get("/nothing")).headers


async def test_a_rotated_secret_still_verifies_old_cookies() -> None:
    store = MemoryStore()
    old_secret, new_secret = "o" * 40, "n" * 40
    async with run(counter, secret=old_secret, session={"store": store}) as api:
        await api.get("/")
        cookie = session_cookie(api)
    async with run(counter, secret=f"{new_secret},{old_secret}", session={"store": store}) as api:
        response = await api.get("/", headers={"cookie": f"session={cookie}"})
        assert response.body == {"views": 2}
    async with run(counter, secret=new_secret, session={"store": store}) as api:
        response = await api.get("/", headers={"cookie": f"session={cookie}"})
        assert response.body == {"views": 1}  # the retired secret no longer verifies


async def test_users_are_indexed_for_log_out_everywhere() -> None:
    store = MemoryStore()

    @get("/login/:user")
    def login(ctx: Context) -> str:
        ctx.session.regenerate()
        ctx.session.user = ctx.params["user"]
        return "ok"

    @get("/devices")
    async def devices(ctx: Context) -> list[bool]:
        assert ctx.store is not None
        sessions = await ctx.store.sessions_of(ctx.session.user)
        return [info.key == ctx.session.key for info in sessions]

    @get("/everywhere")
    async def everywhere(ctx: Context) -> int:
        assert ctx.store is not None
        await ctx.store.destroy_user(ctx.session.user, keep=ctx.session.key)
        return 204

    app = run(login, devices, everywhere, read, counter, session={"store": store})
    async with app as laptop:
        await laptop.get("/login/ada")
        await laptop.get("/")
        phone = type(laptop)(type(laptop.client)(base_url=laptop.url), laptop.url)
        try:
            await phone.get("/login/ada")
            await phone.get("/")
            assert sorted((await laptop.get("/devices")).body) == [False, True]
            assert (await laptop.get("/everywhere")).status == 204
            assert (await phone.get("/read")).body == {}  # the phone is logged out
            assert (await laptop.get("/read")).body == {"views": 1}
        finally:
            await phone.client.aclose()


async def test_memory_store_stays_bounded_under_many_new_visitors() -> None:
    store = MemoryStore(max_entries=50)
    async with run(counter, session={"store": store}) as api:
        for _ in range(300):
            api.cookies.clear()
            await api.get("/")
        assert len(store) == 50
        assert (await api.get("/")).body == {"views": 2}  # the newest visitor is kept


async def test_a_poisoned_entry_is_a_new_session_and_an_error_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class PoisonedStore(MemoryStore):
        async def load(self, key: str) -> dict[str, Any] | None:
            raise CorruptSession("entry is not JSON")

    async with run(counter, session={"store": PoisonedStore()}) as api:
        with caplog.at_level(logging.ERROR, logger="porch"):
            await api.get("/")
            response = await api.get("/")
    assert response.status == 200
    assert response.body == {"views": 1}
    assert any("not JSON" in record.getMessage() for record in caplog.records)


async def test_a_store_that_does_not_answer_is_a_503_within_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class HangingStore(MemoryStore):
        async def load(self, key: str) -> dict[str, Any] | None:
            await asyncio.sleep(30)
            return None

    async with run(counter, session={"store": HangingStore(), "timeout": 0.2}) as api:
        await api.get("/")
        with caplog.at_level(logging.ERROR, logger="porch"):
            response = await asyncio.wait_for(api.get("/"), timeout=10)
    assert response.status == 503
    assert "HangingStore" in caplog.text and "0.2 s" in caplog.text


async def test_sessions_can_be_turned_off() -> None:
    @get("/")
    def page(ctx: Context) -> str:
        try:
            ctx.session.get("x")
        except RuntimeError as exc:
            return str(exc)
        return "had a session"

    async with run(page, session=False) as api:
        response = await api.get("/")
        assert "sessions are turned off" in response.text
        assert "set-cookie" not in response.headers


def test_sync_form_keeps_the_session_too() -> None:
    with run(counter) as api:
        assert [api.get("/").body["views"] for _ in range(3)] == [1, 2, 3]


async def test_the_session_itself_can_be_returned_as_json() -> None:
    @get("/all")
    def everything(ctx: Context) -> Any:
        ctx.session["nested"] = {"a": [1, 2]}
        return ctx.session

    async with run(everything) as api:
        assert (await api.get("/all")).body == {"nested": {"a": [1, 2]}}


# --- the verified-cookie memo and Vary, on the hot path ---


async def test_a_verified_cookie_is_remembered_and_a_forged_one_never_is() -> None:
    from porch import server
    from porch.session import VERIFIED_COOKIES

    app = server(get("/", lambda ctx: None), secret="memo-secret-" + "x" * 30)
    assert app.sessions is not None
    layer = app.sessions
    signer = Signer(("memo-secret-" + "x" * 30,), purpose="porch.session")
    good = signer.sign("an-id")
    assert layer.verify(good) == ("an-id", hashlib.sha256(b"an-id").hexdigest())
    assert good in layer.verified
    forged = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert layer.verify(forged) is None
    assert layer.verify("no-signature-at-all") is None
    assert list(layer.verified) == [good]
    for number in range(VERIFIED_COOKIES + 10):
        layer.verify(signer.sign(f"id-{number}"))
    assert len(layer.verified) == VERIFIED_COOKIES
    assert good not in layer.verified  # oldest out first
    assert layer.verify(good) == ("an-id", hashlib.sha256(b"an-id").hexdigest())


async def test_a_page_that_reads_the_session_adds_cookie_to_its_own_vary() -> None:
    from porch import header

    def page(ctx: Context) -> Any:
        return header("Vary", "Accept-Encoding").send(str(ctx.session.get("n")))

    async with run(get("/", page), get("/plain", lambda ctx: "plain")) as api:
        response = await api.get("/")
        assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]
        assert "vary" not in (await api.get("/plain")).headers
