"""Sockets over the real server: a python-socketio client shares the browser's HTTP session.

Every test connects a real Socket.IO client (python-socketio's ``AsyncClient``)
to ``run(...)``'s server, carrying the session cookie an HTTP request set, as a
browser does. The scale-out test runs two ``python -m porch serve`` processes on
one private redis-server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import socketio

from porch import get, run, server, socket
from porch.option_types import ServerOptions
from porch.socket import SocketContext, SocketHandler
from porch.socket_pubsub import channel_for, manager_url
from porch.testing.server import AsyncApi

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, ask
    from tests.serve_process import serving
else:
    from redis_server import RedisServer, ask
    from serve_process import serving

TIMEOUT = 10.0
NO_CSRF: ServerOptions = {"security": {"csrf": False}}


@asynccontextmanager
async def connected(
    url: str,
    *,
    cookie: str | None = None,
    transports: list[str] | None = None,
    **listeners: asyncio.Queue[Any],
) -> AsyncIterator[socketio.AsyncClient]:
    """A Socket.IO client connected to ``url``; each ``event=queue`` collects that event."""
    client = socketio.AsyncClient()
    for event, queue in listeners.items():
        client.on(event, queue.put_nowait)
    headers = {"Cookie": cookie} if cookie else {}
    await client.connect(
        url,
        headers=headers,
        transports=transports or ["polling", "websocket"],
        wait_timeout=TIMEOUT,
    )
    try:
        yield client
    finally:
        await client.disconnect()
        await client.shutdown()


def session_cookie(api: AsyncApi) -> str:
    """The Cookie header a browser would send with the handshake."""
    value = api.cookies.get("session")
    assert value, "the HTTP request should have set the session cookie"
    return f"session={value}"


async def until(condition: Any, what: str) -> None:
    """Poll ``condition()`` on the event loop; fail naming ``what`` after TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# --- the app most tests use ---


@get("/login")
def login(ctx: Any) -> dict[str, Any]:
    ctx.session["name"] = "ada"
    return {"ok": True}


@get("/me")
def me(ctx: Any) -> dict[str, Any]:
    return dict(ctx.session)


@socket("whoami")
def whoami(ctx: SocketContext) -> dict[str, Any]:  # sync: runs in a worker thread
    return {"name": ctx.session.get("name"), "data": ctx.data}


@socket("remember")
async def remember(ctx: SocketContext) -> str:
    ctx.session["said"] = ctx.data
    return "saved"


@socket("shout")
async def shout(ctx: SocketContext) -> str:
    await ctx.io.emit("heard", {"from": ctx.socket.id, "text": ctx.data})
    return "sent"


@socket("echo")
async def echo(ctx: SocketContext) -> None:
    await ctx.socket.emit("echoed", ctx.data)


@socket("said")
def said(ctx: SocketContext) -> Any:
    return ctx.session.get("said")


APP = [login, me, whoami, remember, said, shout, echo]


# --- the session, shared with HTTP ---


async def test_socket_reads_the_session_an_http_request_wrote() -> None:
    async with run(APP, **NO_CSRF) as api:
        await api.get("/login")
        async with connected(api.url, cookie=session_cookie(api)) as client:
            assert await client.call("whoami", "hi", timeout=TIMEOUT) == {
                "name": "ada",
                "data": "hi",
            }


async def test_socket_write_is_seen_by_the_next_http_request() -> None:
    async with run(APP, **NO_CSRF) as api:
        await api.get("/login")
        async with connected(api.url, cookie=session_cookie(api)) as client:
            assert await client.call("remember", "hello", timeout=TIMEOUT) == "saved"
        assert (await api.get("/me")).body == {"name": "ada", "said": "hello"}


async def test_websocket_transport_shares_the_session_too() -> None:
    async with run(APP, **NO_CSRF) as api:
        await api.get("/login")
        cookie = session_cookie(api)
        async with connected(api.url, cookie=cookie, transports=["websocket"]) as client:
            assert client.transport() == "websocket"
            assert await client.call("remember", [1, 2], timeout=TIMEOUT) == "saved"
            answer = await client.call("whoami", timeout=TIMEOUT)
        assert answer == {"name": "ada", "data": None}
        assert (await api.get("/me")).body == {"name": "ada", "said": [1, 2]}


async def test_tampered_cookie_gets_a_fresh_empty_session_not_an_error() -> None:
    async with run(APP, **NO_CSRF) as api:
        await api.get("/login")
        tampered = session_cookie(api)[:-3] + "xyz"
        async with connected(api.url, cookie=tampered) as client:
            assert await client.call("whoami", timeout=TIMEOUT) == {"name": None, "data": None}
        assert (await api.get("/me")).body == {"name": "ada"}


async def test_a_session_begun_over_a_socket_stays_with_that_connection() -> None:
    """No cookie can be set over a socket: the new session is the connection's alone."""
    async with run(APP, **NO_CSRF) as api:
        async with connected(api.url) as first, connected(api.url) as second:
            assert await first.call("remember", "mine", timeout=TIMEOUT) == "saved"
            assert await first.call("said", timeout=TIMEOUT) == "mine"
            assert await second.call("said", timeout=TIMEOUT) is None
        assert (await api.get("/me")).body == {}


# --- lifecycle, acknowledgements, broadcasts ---


async def test_connect_and_disconnect_handlers_run_with_the_session() -> None:
    seen: list[tuple[str, Any, Any]] = []

    @socket("connect")
    def on_connect(ctx: SocketContext) -> None:
        seen.append(("connect", ctx.data, ctx.session.get("name")))
        ctx.session["visits"] = ctx.session.get("visits", 0) + 1

    @socket("disconnect")
    async def on_disconnect(ctx: SocketContext) -> None:
        seen.append(("disconnect", ctx.socket.id, ctx.session.get("visits")))
        ctx.session["left"] = True

    async with run(APP, on_connect, on_disconnect, **NO_CSRF) as api:
        await api.get("/login")
        async with connected(api.url, cookie=session_cookie(api)) as client:
            socket_id = client.get_sid()
            assert seen == [("connect", None, "ada")]
        await until(lambda: len(seen) == 2, "the disconnect handler")
        assert seen[1] == ("disconnect", socket_id, 1)
        body = (await api.get("/me")).body
        assert body == {"name": "ada", "visits": 1, "left": True}


async def test_a_connect_handler_returning_false_refuses_the_connection() -> None:
    @socket("connect")
    def only_with_token(ctx: SocketContext) -> bool | None:
        return None if ctx.data == {"token": "yes"} else False

    async with run(APP, only_with_token, **NO_CSRF) as api:
        refused = socketio.AsyncClient()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(api.url, auth={"token": "no"}, wait_timeout=TIMEOUT)
        await refused.shutdown()
        client = socketio.AsyncClient()
        await client.connect(api.url, auth={"token": "yes"}, wait_timeout=TIMEOUT)
        assert await client.call("whoami", timeout=TIMEOUT) == {"name": None, "data": None}
        await client.disconnect()
        await client.shutdown()


async def test_the_ack_is_what_the_handler_returned() -> None:
    def never(ctx: SocketContext) -> str:  # an earlier handler answered: the chain ended
        return "unreachable"

    add = socket("add", lambda ctx: None, lambda ctx: sum(ctx.data), never)
    assert isinstance(add, SocketHandler)
    async with run(add, session=False) as api, connected(api.url) as client:
        assert await client.call("add", [1, 2, 3], timeout=TIMEOUT) == 6


async def test_io_emit_reaches_every_connected_client() -> None:
    first_heard: asyncio.Queue[Any] = asyncio.Queue()
    second_heard: asyncio.Queue[Any] = asyncio.Queue()
    async with (
        run(APP, **NO_CSRF) as api,
        connected(api.url, heard=first_heard) as first,
        connected(api.url, heard=second_heard, transports=["websocket"]),
    ):
        assert await first.call("shout", "hello all", timeout=TIMEOUT) == "sent"
        expected = {"from": first.get_sid(), "text": "hello all"}
        assert await asyncio.wait_for(first_heard.get(), TIMEOUT) == expected
        assert await asyncio.wait_for(second_heard.get(), TIMEOUT) == expected


async def test_socket_emit_reaches_only_this_client() -> None:
    mine: asyncio.Queue[Any] = asyncio.Queue()
    theirs: asyncio.Queue[Any] = asyncio.Queue()
    async with (
        run(APP, **NO_CSRF) as api,
        connected(api.url, echoed=mine) as me,
        connected(api.url, echoed=theirs) as them,
    ):
        await me.call("echo", "just me", timeout=TIMEOUT)
        assert await asyncio.wait_for(mine.get(), TIMEOUT) == "just me"
        await them.call("echo", "them", timeout=TIMEOUT)
        assert await asyncio.wait_for(theirs.get(), TIMEOUT) == "them"
        await me.call("echo", "again", timeout=TIMEOUT)  # one connection keeps its order:
        assert await asyncio.wait_for(mine.get(), TIMEOUT) == "again"  # "them" never came
        assert theirs.empty()


async def test_a_failing_handler_is_logged_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @socket("boom")
    async def boom(ctx: SocketContext) -> None:
        raise ValueError("the handler broke")

    async with run(APP, boom, **NO_CSRF) as api, connected(api.url) as client:
        with caplog.at_level(logging.ERROR, logger="porch.socket"):
            assert await client.call("boom", timeout=TIMEOUT) is None
        assert "event 'boom': the handler failed" in caplog.text
        assert "ValueError: the handler broke" in caplog.text
        assert await client.call("whoami", 1, timeout=TIMEOUT) == {"name": None, "data": 1}
        assert (await api.get("/me")).status == 200


async def test_several_arguments_arrive_as_a_tuple_and_ctx_knows_the_handshake() -> None:
    @socket("pair")
    def pair(ctx: SocketContext) -> dict[str, Any]:
        return {
            "data": list(ctx.data),
            "agent": ctx.headers.get("x-agent"),
            "cookie": ctx.cookies.get("flavour"),
            "env": ctx.options.env,
            "has_store": ctx.store is not None,
            "event": ctx.event,
        }

    async with run(pair) as api:
        client = socketio.AsyncClient()
        await client.connect(
            api.url, headers={"X-Agent": "tests", "Cookie": "flavour=mint"}, wait_timeout=TIMEOUT
        )
        answer = await client.call("pair", ("a", "b"), timeout=TIMEOUT)
        await client.disconnect()
        await client.shutdown()
    assert answer == {
        "data": ["a", "b"],
        "agent": "tests",
        "cookie": "mint",
        "env": "test",
        "has_store": True,
        "event": "pair",
    }


async def test_an_app_without_sockets_does_not_serve_socket_io() -> None:
    async with run(login, **NO_CSRF) as api:
        assert (await api.get("/socket.io/?EIO=4&transport=polling")).status == 404
        refused = socketio.AsyncClient()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(api.url, wait_timeout=TIMEOUT)
        await refused.shutdown()


def test_socket_takes_an_event_name_and_a_function() -> None:
    with pytest.raises(TypeError, match="event name"):
        socket("")
    with pytest.raises(TypeError, match="callable"):
        socket("message", "not a function")  # type: ignore[call-overload]
    app = server(socket("message", lambda ctx: None), session=False)
    assert app.sockets is not None
    assert server(session=False).sockets is None


async def test_a_handshake_from_another_origin_is_refused() -> None:
    async with run(APP, **NO_CSRF) as api:
        await api.get("/login")
        other_site = socketio.AsyncClient()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await other_site.connect(
                api.url,
                headers={"Cookie": session_cookie(api), "Origin": "http://elsewhere.example"},
                wait_timeout=TIMEOUT,
            )
        await other_site.shutdown()
        async with connected(api.url, cookie=session_cookie(api)) as same_site:
            assert await same_site.call("said", timeout=TIMEOUT) is None


# --- docs/websockets.md: its examples run here, so the page cannot drift ---

DOCS = Path(__file__).resolve().parent.parent / "docs" / "websockets.md"


def docs_examples() -> list[str]:
    text = DOCS.read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


async def test_the_docs_chat_example_welcomes_counts_and_broadcasts() -> None:
    namespace: dict[str, Any] = {}
    exec(docs_examples()[0], namespace)
    messages: asyncio.Queue[Any] = asyncio.Queue()
    async with run(namespace["app"]) as api:
        page = await api.get("/?name=ada")
        assert page.status == 200
        assert "socket.io.min.js" in page.text
        async with connected(api.url, cookie=session_cookie(api), message=messages) as client:
            assert await asyncio.wait_for(messages.get(), TIMEOUT) == "welcome, ada"
            assert await client.call("message", "hello", timeout=TIMEOUT) == 1
            assert await asyncio.wait_for(messages.get(), TIMEOUT) == "ada: hello"
            assert await client.call("message", "again", timeout=TIMEOUT) == 2


async def test_the_docs_testing_example_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(docs_examples()[1], namespace)
    await namespace["test_the_socket_sees_the_session"]()


# --- which Redis carries the broadcasts ---


def test_manager_url_follows_the_session_store() -> None:
    assert manager_url("redis://:pw@host:6379/2") == "redis://:pw@host:6379/2"
    assert manager_url("rediss://host/0") == "rediss://host/0"
    assert manager_url("unix:///run/redis.sock?db=1") == "unix:///run/redis.sock?db=1"
    assert (
        manager_url("redis+sentinel://:pw@s1:26379,s2:26379/porch/3")
        == "redis+sentinel://:pw@s1:26379,s2:26379/3/porch"
    )
    assert manager_url("redis+cluster://:pw@n1:7000,n2:7001") == "redis://:pw@n1:7000/0"
    assert manager_url("sqlite:///sessions.db") is None
    assert manager_url("memory://") is None


def test_each_redis_database_gets_its_own_broadcast_channel() -> None:
    assert channel_for("redis://host:6379/2") == "porch.socket.db2"
    assert channel_for("redis://host:6379") == "porch.socket.db0"
    assert channel_for("unix:///run/redis.sock?db=5") == "porch.socket.db5"
    assert channel_for("redis+sentinel://s1:26379/3/porch") == "porch.socket.db3"


# --- scale-out: two processes, one Redis ---

SCALE_OUT_APP = """
from porch import get, server, socket

@get('/login')
def login(ctx):
    ctx.session['name'] = 'ada'
    return {'ok': True}

@socket('whoami')
def whoami(ctx):
    return ctx.session.get('name')

@socket('shout')
async def shout(ctx):
    await ctx.io.emit('heard', ctx.data)
    return 'sent'

app = server(login, whoami, shout, security={'csrf': False})
"""


def subscribers(redis: RedisServer) -> int:
    reply = ask(redis.port, "PUBSUB", "NUMSUB", "porch.socket.db0").split()
    return int(reply[1]) if len(reply) == 2 else -1


async def test_with_a_redis_store_broadcasts_go_through_redis_and_close_cleanly(
    redis: RedisServer,
) -> None:
    """In one process too, and twice with the same app: close() stops the listener."""
    app = server(APP, session={"store": redis.url}, env="test", security={"csrf": False})
    assert app.sockets is not None
    assert app.sockets.manager_url == redis.url
    for _ in range(2):
        heard: asyncio.Queue[Any] = asyncio.Queue()
        async with run(app) as api, connected(api.url, heard=heard) as client:
            await api.get("/login")
            assert await client.call("shout", "via redis", timeout=TIMEOUT) == "sent"
            assert await asyncio.wait_for(heard.get(), TIMEOUT) == {
                "from": client.get_sid(),
                "text": "via redis",
            }
            await until(lambda: subscribers(redis) == 1, "the app to subscribe to Redis")
        await until(lambda: subscribers(redis) == 0, "close() to drop the subscription")


@pytest.fixture
def two_workers(isolated_environment: Path, redis: RedisServer) -> Iterator[tuple[str, str]]:
    """Two ``python -m porch serve`` processes sharing REDIS_URL and SECRET."""
    (isolated_environment / "app.py").write_text(SCALE_OUT_APP)
    environment = {
        "REDIS_URL": redis.url,
        "SECRET": "a-shared-secret-that-is-long-enough-for-production",
        "ENV": "production",
        "LOG": "warning",
    }
    with (
        serving("app:app", env=environment) as first,
        serving("app:app", env=environment) as second,
    ):
        yield first, second


async def test_broadcasts_and_sessions_reach_across_workers_through_redis(
    two_workers: tuple[str, str],
) -> None:
    first_url, second_url = two_workers
    async with httpx.AsyncClient() as browser:
        login = await browser.get(first_url + "/login")
        cookie = f"session={login.cookies['session']}"
    first_heard: asyncio.Queue[Any] = asyncio.Queue()
    second_heard: asyncio.Queue[Any] = asyncio.Queue()
    async with (
        connected(first_url, cookie=cookie, heard=first_heard) as first,
        connected(
            second_url, cookie=cookie, heard=second_heard, transports=["websocket"]
        ) as second,
    ):
        # The session written over HTTP on the first worker, read over a socket on the second.
        assert await second.call("whoami", timeout=TIMEOUT) == "ada"
        # The second worker subscribes to Redis in the background once a client connects:
        # shout until its client hears one, then check that every shout reached both.
        shouts = 0
        deadline = time.monotonic() + TIMEOUT
        while second_heard.empty():
            if time.monotonic() > deadline:
                pytest.fail("a broadcast from the first worker never reached the second")
            shouts += 1
            assert await first.call("shout", shouts, timeout=TIMEOUT) == "sent"
            await asyncio.sleep(0.05)
        heard_on_second = await second_heard.get()
        heard_on_first = [await asyncio.wait_for(first_heard.get(), TIMEOUT) for _ in range(shouts)]
        assert heard_on_first == list(range(1, shouts + 1))
        assert heard_on_second in heard_on_first
