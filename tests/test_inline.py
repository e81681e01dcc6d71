"""Which sync handlers run on the event loop: only those porch proves cannot wait."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from porch import error, get, render, run
from porch.context import Context
from porch.inline import why_threaded
from porch.session.stores import MemoryStore
from porch.step import Step

if TYPE_CHECKING:
    from tests.test_inline_rule import counter, login, parses
else:  # pytest puts tests/ on sys.path; the rule's table defines the handlers both test
    from test_inline_rule import counter, login, parses


# The table of handlers and what porch decides for each is tests/test_inline_rule.py.


def test_async_handlers_are_awaited_not_classified() -> None:
    async def handler(ctx: Context) -> str:
        return "async"

    step = Step(handler)
    assert step.is_async and not step.inline


async def test_an_inline_handler_runs_on_the_loop_thread_and_answers_over_http() -> None:
    """The loop's thread is recorded by an async middleware; the inline handler's result
    proves it ran in the same request, and a sleeping sync handler still runs elsewhere."""
    threads: dict[str, int] = {}

    async def loop_thread(ctx: Context) -> None:
        threads["loop"] = threading.get_ident()

    def record_sleeper_thread(ctx: Context) -> str:
        threads["sleeper"] = threading.get_ident()
        time.sleep(0.01)
        return "slept"

    assert Step(counter).inline and not Step(record_sleeper_thread).inline
    async with run(loop_thread, get("/", counter), get("/sleep", record_sleeper_thread)) as api:
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
        assert (await api.get("/sleep")).body == "slept"
    assert threads["sleeper"] != threads["loop"]


async def test_an_inline_handler_sees_the_same_errors_and_replies_as_a_threaded_one() -> None:
    async with run(get("/double", parses), get("/login", login)) as api:
        assert (await api.get("/double?n=21")).body == {
            "double": 42,
            "path": "/double",
            "method": "GET",
        }
        assert (await api.get("/double?n=x")).status == 400
        refused = await api.get("/login")
        assert (refused.status, refused.body) == (401, "Who are you?")


async def test_a_slow_handler_still_does_not_stall_a_fast_inline_one() -> None:
    started = threading.Event()

    def slow(ctx: Context) -> str:
        started.set()
        time.sleep(0.5)
        return "slow"

    async with run(get("/slow", slow), get("/fast", lambda ctx: "fast")) as api:
        slow_request = asyncio.create_task(api.get("/slow"))
        assert await asyncio.to_thread(started.wait, 10)
        fast = await api.get("/fast")
        assert not slow_request.done()
        assert (await slow_request).body == "slow"
    assert fast.body == "fast"


# --- over the real server: handlers that reach the app's objects or costs set by the
# request run in a thread, so a concurrent request is answered while they run ---


class Called(str):
    """An attribute of the app's object: a value, and a method when called."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return str(self)


class Blocker(Exception):
    """Stands for the app's slow object (a database handle, a lazy ORM attribute) and for
    a value whose cost the request sets: every use of it waits until a concurrent
    request releases it. ``overlapped`` records whether that release came while it was
    still waiting, i.e. whether the loop went on serving during the wait."""

    def __init__(self) -> None:
        super().__init__("blocker")
        self.started = threading.Event()
        self.released = threading.Event()
        self.overlapped: bool | None = None

    def wait(self) -> None:
        self.started.set()
        # A timeout only so that a stalled loop fails the test instead of hanging it.
        self.overlapped = self.released.wait(30)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self.wait()
        return Called("called")

    def __str__(self) -> str:
        self.wait()
        return "3"  # a count or a width, as the request would send it

    def __format__(self, spec: str) -> str:
        return str(self)

    def __int__(self) -> int:
        self.wait()
        return 3

    def __index__(self) -> int:
        return self.__int__()

    def __iter__(self) -> Any:
        self.wait()
        return iter(["a", "b"])

    def __mod__(self, other: Any) -> str:
        self.wait()
        return "formatted"

    def __getitem__(self, key: Any) -> Any:
        self.wait()
        return "item"


def converts_the_error(ctx: Context) -> Any:
    return str(ctx.error)


def reads_the_store(ctx: Context) -> Any:
    return {"store": ctx.options.session.store.label}  # type: ignore[union-attr]


ATTACKS = [
    lambda ctx: ctx.scope["db"].execute("select 1"),
    lambda ctx: {"name": ctx.scope["user"].name},
    lambda ctx: str(ctx.scope["user"]),
    lambda ctx: "x" * int(ctx.query["n"]),
    lambda ctx: {"big": 2 ** int(ctx.query["n"])},
    lambda ctx: {"big": 1 << int(ctx.query["n"])},
    lambda ctx: [0] * int(ctx.query["n"]),
    lambda ctx: ",".join(ctx.query["l"]),
    lambda ctx: sorted(ctx.query["l"]),
    lambda ctx: ctx.query["s"].center(30),
    lambda ctx: ctx.query["f"] % 1,
    lambda ctx: f"{1:>{ctx.query['w']}}",
    lambda ctx: bytes(int(ctx.query["n"])),
    lambda ctx: ctx.data.name,
    lambda ctx: render("page.html", user=ctx.scope["user"]),
]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_a_handler_that_may_block_does_not_stall_a_concurrent_request(
    attack: Any, tmp_path: Any
) -> None:
    blocker = Blocker()
    (tmp_path / "page.html").write_text("<p>{{ user.name }}</p>")

    async def plant(ctx: Context) -> None:
        """Middleware on the loop: the app's object in the scope; values standing for what
        the request chose (a count, a list, a format) in the views porch parses."""
        ctx.scope["db"] = ctx.scope["user"] = blocker
        ctx.query = dict.fromkeys(("n", "l", "s", "f", "w"), blocker)
        ctx.data = blocker

    async def release(ctx: Context) -> str:
        blocker.released.set()
        return "released"

    assert why_threaded(attack) is not None
    app = (plant, get("/attack", attack), get("/release", release))
    async with run(*app, views=str(tmp_path)) as api:
        attacked = asyncio.create_task(api.get("/attack"))
        assert await asyncio.to_thread(blocker.started.wait, 30)
        assert (await api.get("/release")).body == "released"
        assert (await attacked).status == 200
    assert blocker.overlapped is True


async def test_an_error_handler_that_converts_the_error_does_not_stall_the_loop() -> None:
    blocker = Blocker()

    def fails(ctx: Context) -> None:
        raise ctx.scope["error"]

    async def plant(ctx: Context) -> None:
        ctx.scope["error"] = blocker

    async def release(ctx: Context) -> str:
        blocker.released.set()
        return "released"

    assert why_threaded(converts_the_error) is not None
    app = (plant, get("/fail", fails), get("/release", release), error(converts_the_error))
    async with run(*app) as api:
        failed = asyncio.create_task(api.get("/fail"))
        assert await asyncio.to_thread(blocker.started.wait, 30)
        assert (await api.get("/release")).body == "released"
        assert (await failed).body == "3"
    assert blocker.overlapped is True


async def test_a_handler_that_reads_the_app_store_through_options_runs_in_a_thread() -> None:
    blocker = Blocker()

    class LabelledStore(MemoryStore):
        @property
        def label(self) -> str:
            blocker.wait()
            return "memory"

    async def release(ctx: Context) -> str:
        blocker.released.set()
        return "released"

    assert why_threaded(reads_the_store) is not None
    app = (get("/store", reads_the_store), get("/release", release))
    async with run(*app, session={"store": LabelledStore()}) as api:
        read = asyncio.create_task(api.get("/store"))
        assert await asyncio.to_thread(blocker.started.wait, 30)
        assert (await api.get("/release")).body == "released"
        assert (await read).body == {"store": "memory"}
    assert blocker.overlapped is True


async def test_a_threaded_handler_renders_its_template_in_its_thread(tmp_path: Any) -> None:
    """The template touches a slow attribute (a lazy ORM load): that wait happens in the
    handler's thread, so the loop answers another request meanwhile."""
    blocker = Blocker()
    (tmp_path / "user.html").write_text("<p>{{ user.name }}</p>")

    def page(ctx: Context) -> Any:
        return render("user.html", user=ctx.scope["user"])

    async def plant(ctx: Context) -> None:
        ctx.scope["user"] = blocker

    async def release(ctx: Context) -> str:
        blocker.released.set()
        return "released"

    app = (plant, get("/user", page), get("/release", release))
    async with run(*app, views=str(tmp_path)) as api:
        shown = asyncio.create_task(api.get("/user"))
        assert await asyncio.to_thread(blocker.started.wait, 30)
        assert (await api.get("/release")).body == "released"
        assert (await shown).body == "<p>called</p>"
    assert blocker.overlapped is True


async def test_a_handler_that_returns_an_awaitable_answers_the_same_wherever_it_runs() -> None:
    """A handler that can return an awaitable calls something porch cannot vouch for, so
    it runs in a thread, and the awaitable is awaited: 200, not a 500."""

    async def work() -> str:
        return "done"

    async def plant(ctx: Context) -> None:
        ctx.scope["work"] = work

    def hands_back(ctx: Context) -> Any:
        return ctx.scope["work"]()

    assert not Step(hands_back).inline
    async with run(plant, get("/", hands_back)) as api:
        answer = await api.get("/")
    assert (answer.status, answer.body) == (200, "done")
