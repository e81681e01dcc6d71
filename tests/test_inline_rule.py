"""The rule for running a ``def`` handler on the loop, as a table: the same on every Python.

Each row is a handler and what porch must decide for it: ``None`` (it runs on the
event loop) or a part of the reason it runs in a worker thread. The decision
reads the handler's syntax tree, so 3.11, 3.12 and 3.13 agree; this file runs on
each of them (scripts/test, and by hand with each version's venv).
"""

from __future__ import annotations

import builtins
import linecache
import sys
from types import FunctionType
from typing import Any

import pytest

from porch import cookie, file, get, header, json, redirect, render, status
from porch.context import Context
from porch.errors import BadRequest, Forbidden
from porch.inline import why_threaded
from porch.step import Step

TABLES: dict[str, Any] = {}


class Model:
    """An object of the app's: its methods may do anything."""


# --- handlers that run on the loop ---


def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


def login(ctx: Context) -> Any:
    if ctx.data and ctx.data.get("user") == "ada":
        ctx.session.user = "ada"
        ctx.session.regenerate()
        return redirect("/")
    return status(401).send("Who are you?")


def parses(ctx: Context) -> Any:
    try:
        number = int(ctx.query["n"])
    except (KeyError, ValueError):
        return 400
    return json({"double": number * 2, "path": ctx.path, "method": ctx.method})


def greets(ctx: Context) -> str:
    name = ctx.query.get("name", "world").strip().lower()
    return f"<p>Hello {name}, you came from {ctx.headers.get('referer')!r}</p>"


def adds_to_cart(ctx: Context) -> Any:
    cart = ctx.session.setdefault("cart", [])
    cart.append(ctx.data["item"])
    ctx.session["total"] = len(cart)
    del ctx.session["draft"]
    return cookie("seen", "1", max_age=60).header("X-Cart", str(len(cart))).json(cart)


def guards(ctx: Context) -> Any:
    if not ctx.secure or ctx.ip is None:
        raise Forbidden("HTTPS only")
    if not isinstance(ctx.data, dict | list) or not isinstance(ctx.ip, (str, int)):
        raise BadRequest("send JSON")
    if ctx.method not in ("GET", "POST"):
        raise ValueError("unexpected method")
    line = "-" * 40
    short = ctx.url[:100] + line
    return {"short": short, "form": ctx.has_form(), "csrf": ctx.csrf, "new": ctx.session.is_new}


def numbers(ctx: Context) -> Any:
    n = int(ctx.query.get("n", "1"))
    x = float(ctx.query.get("x", "0"))
    views = ctx.session.get("views", 0)
    views += 1
    return [n * n, n**2, n % 7, n // 3, n << 2, n >> 1, abs(x) / 2, round(x, 2), min(n, 3), views]


def formats(ctx: Context) -> str:
    text = "%s items, %d%%" % (ctx.params["count"], 5)  # noqa: UP031
    return text + f"{ctx.query.get('p', ''):>8}"


# --- handlers that must run in a worker thread, and why ---


def uses_the_scope(ctx: Context) -> Any:
    return ctx.scope["db"].execute("select 1")


def reads_a_property_through_the_scope(ctx: Context) -> Any:
    return {"name": ctx.scope["user"].name}


def converts_a_scope_object(ctx: Context) -> str:
    return str(ctx.scope["user"])


def reads_the_store_through_options(ctx: Context) -> Any:
    return str(ctx.options.session.store)  # type: ignore[union-attr]


def converts_the_error(ctx: Context) -> str:
    return str(ctx.error)


def repeats_a_string(ctx: Context) -> str:
    return "x" * int(ctx.query["n"])


def repeats_a_value(ctx: Context) -> Any:
    return ctx.query["s"] * int(ctx.query["n"])


def repeats_a_list(ctx: Context) -> Any:
    return [0] * len(ctx.query["s"])


def raises_to_a_power(ctx: Context) -> Any:
    return {"big": 2 ** int(ctx.query["n"])}


def shifts(ctx: Context) -> Any:
    return {"big": 1 << int(ctx.query["n"])}


def joins(ctx: Context) -> str:
    return ",".join(ctx.query["l"])


def sorts(ctx: Context) -> Any:
    return sorted(ctx.query["l"])


def pads(ctx: Context) -> Any:
    return ctx.query["s"].center(int(ctx.query["n"]))


def replaces(ctx: Context) -> Any:
    return ctx.query["s"].replace("a", ctx.query["b"])


def strips_characters_from_the_request(ctx: Context) -> Any:
    return ctx.query["s"].strip(ctx.query["chars"])


def encodes_by_a_name_from_the_request(ctx: Context) -> Any:
    return ctx.query["s"].encode(ctx.query["codec"])


def formats_with_a_format_from_the_request(ctx: Context) -> Any:
    return ctx.query["f"] % ctx.query["a"]


def formats_with_a_width_from_the_request(ctx: Context) -> str:
    return "%*d" % (int(ctx.query["w"]), 1)  # noqa: UP031


def f_string_width_from_the_request(ctx: Context) -> Any:
    return f"{ctx.query['s']:>{ctx.query['w']}}"


def allocates_bytes(ctx: Context) -> Any:
    return bytes(int(ctx.query["n"]))


def converts_to_bytes(ctx: Context) -> Any:
    return int(ctx.query["n"]).to_bytes(int(ctx.query["n"]), "big")


def rounds_to_digits_from_the_request(ctx: Context) -> Any:
    return {"r": round(5, -int(ctx.query["n"]))}


def decodes_by_a_name_from_the_request(ctx: Context) -> Any:
    return str(ctx.data, ctx.query["codec"])


def checks_isinstance_with_an_extra_argument(ctx: Context) -> Any:
    return isinstance(ctx.data, dict, ctx.scope["x"].y)  # type: ignore[call-arg]


def reads_an_attribute_of_data(ctx: Context) -> Any:
    return ctx.data.name


def comprehends(ctx: Context) -> Any:
    return [value for value in ctx.query.values()]


def renders(ctx: Context) -> Any:
    return render("page.html", name=ctx.params["name"])


def sends_a_file(ctx: Context) -> Any:
    return file(ctx.params["name"])


def stores_a_reply(ctx: Context) -> Any:
    ctx.session["reply"] = status(200)
    return ctx.session["reply"]


def renders_through_a_maybe_reply(ctx: Context) -> Any:
    reply = ctx.data or status(200)
    return reply.json({}).render("page.html")


def reads_a_global(ctx: Context) -> Any:
    return TABLES.get("x")


def uses_getattr(ctx: Context) -> Any:
    return getattr(ctx, "scope")  # noqa: B009


def hands_ctx_to_the_session(ctx: Context) -> Any:
    return ctx.session.get("x", ctx)


def checks_an_app_class(ctx: Context) -> bool:
    return isinstance(ctx.data, Model)


def loops(ctx: Context) -> int:
    total = 0
    for value in ctx.query.values():
        total += len(value)
    return total


def spins(ctx: Context) -> None:
    while ctx.method:
        pass


def calls_a_nested_function(ctx: Context) -> Any:
    return (lambda: 1)()


def imports(ctx: Context) -> str:
    import os

    return os.getcwd()


def catches_an_app_exception(ctx: Context) -> Any:
    try:
        return int(ctx.query["n"])
    except Model:  # type: ignore[misc]
        return 400


def splats(ctx: Context) -> Any:
    return max(*ctx.query["l"])


def keyword_function(ctx: Context) -> Any:
    return max(ctx.query["l"], key=len)


def uses_the_headers_object(ctx: Context) -> Any:
    return ctx.headers.raw


def uses_the_request(ctx: Context) -> Any:
    return ctx.request.scope


def sets_a_ctx_attribute(ctx: Context) -> Any:
    ctx.scope = {}
    return "x"


def sets_a_header_from_an_app_object(ctx: Context) -> Any:
    return header("X-A", ctx.scope["value"])


def nested_handler() -> Any:
    def handler(ctx: Context) -> Any:
        return {"id": ctx.params["id"]}

    return handler


# fmt: off
ROUTES = [
    get("/items/:id", lambda ctx: (
        ctx.params["id"]
    )), get("/other", lambda ctx: ctx.query.get("q", "")
        + "!"),
]
PAIR = (lambda ctx: ctx.scope["db"], lambda ctx: ctx.params["id"])
# fmt: on


@get("/users/:id")
def decorated(ctx: Context) -> Any:
    return status(200).json(
        {"id": ctx.params["id"]},
    )


INLINE = [
    counter,
    login,
    parses,
    greets,
    adds_to_cart,
    guards,
    numbers,
    formats,
    lambda ctx: "Hello 世界",
    lambda ctx: ctx.params["id"],
    nested_handler(),
    ROUTES[0].handlers[-1].function,
    ROUTES[1].handlers[-1].function,
    PAIR[1],
    decorated.handlers[-1].function,
]

THREADED = [
    (uses_the_scope, "ctx.scope"),
    (reads_a_property_through_the_scope, "ctx.scope"),
    (converts_a_scope_object, "ctx.scope"),
    (reads_the_store_through_options, "ctx.options"),
    (converts_the_error, "ctx.error"),
    (repeats_a_string, "multiplies"),
    (repeats_a_value, "multiplies"),
    (repeats_a_list, "multiplies"),
    (raises_to_a_power, "power"),
    (shifts, "power"),
    (joins, ".join()"),
    (sorts, "'sorted'"),
    (pads, ".center()"),
    (replaces, ".replace()"),
    (strips_characters_from_the_request, "not a literal"),
    (encodes_by_a_name_from_the_request, "not a literal"),
    (formats_with_a_format_from_the_request, "format string"),
    (formats_with_a_width_from_the_request, "format string"),
    (f_string_width_from_the_request, "width or precision"),
    (allocates_bytes, "'bytes'"),
    (converts_to_bytes, ".to_bytes()"),
    (rounds_to_digits_from_the_request, "not a literal"),
    (decodes_by_a_name_from_the_request, "not a literal"),
    (checks_isinstance_with_an_extra_argument, "ctx.scope"),
    (reads_an_attribute_of_data, ".name"),
    (comprehends, "ListComp"),
    (renders, "'render'"),
    (sends_a_file, "'file'"),
    (stores_a_reply, "reply"),
    (renders_through_a_maybe_reply, ".render()"),
    (reads_a_global, "'TABLES'"),
    (uses_getattr, "'getattr'"),
    (hands_ctx_to_the_session, "hands ctx itself on"),
    (checks_an_app_class, "isinstance"),
    (loops, "For"),
    (spins, "While"),
    (calls_a_nested_function, "Lambda"),
    (imports, "Import"),
    (catches_an_app_exception, "'Model'"),
    (splats, "*arguments"),
    (keyword_function, "'len'"),
    (uses_the_headers_object, ".raw"),
    (uses_the_request, "ctx.request"),
    (sets_a_ctx_attribute, "ctx.scope"),
    (sets_a_header_from_an_app_object, "ctx.scope"),
    (lambda ctx: ctx.scope["db"].query(), "ctx.scope"),
    (lambda ctx: "x" * int(ctx.query["n"]), "multiplies"),
    (PAIR[0], "ctx.scope"),
]


@pytest.mark.parametrize("handler", INLINE)
def test_handlers_within_the_rule_run_on_the_loop(handler: Any) -> None:
    assert why_threaded(handler) is None, sys.version
    assert Step(handler).inline


@pytest.mark.parametrize(("handler", "reason"), THREADED)
def test_handlers_beyond_the_rule_run_in_a_worker_thread(handler: Any, reason: str) -> None:
    found = why_threaded(handler)
    assert found is not None and reason in found, (found, sys.version)
    assert not Step(handler).inline


def test_a_function_whose_source_is_not_its_code_runs_in_a_thread() -> None:
    """Built by exec: no file to read, so nothing is proven."""
    namespace: dict[str, Any] = {}
    exec("def handler(ctx):\n    return ctx.params['id']\n", namespace)
    assert "source" in str(why_threaded(namespace["handler"]))


def test_code_typed_at_the_repl_runs_in_a_thread_on_every_python() -> None:
    """3.13 keeps the source of ``python -c`` and the REPL in linecache, older versions
    do not: porch reads neither, so the decision is the same everywhere."""
    source = "def handler(ctx):\n    return ctx.params['id']\n"
    linecache.cache["<stdin-porch-test>"] = (len(source), None, source.splitlines(True), "x")
    try:
        namespace: dict[str, Any] = {}
        exec(compile(source, "<stdin-porch-test>", "exec"), namespace)
        assert "source" in str(why_threaded(namespace["handler"]))
    finally:
        del linecache.cache["<stdin-porch-test>"]


def test_a_builtin_replaced_for_the_function_is_not_vouched_for() -> None:
    """Code run with its own ``__builtins__`` (exec, a sandbox) may have an ``int`` or an
    ``isinstance`` of the app's: porch looks names up where the function does."""

    def slow_int(value: Any) -> int:
        return 0

    class Checked(type):
        pass

    for handler, name, replacement, reason in (
        (numbers, "int", slow_int, "'int'"),
        (guards, "dict", Checked, "isinstance"),
    ):
        own_builtins = {**vars(builtins), name: replacement}
        swapped = FunctionType(
            handler.__code__, {**handler.__globals__, "__builtins__": own_builtins}
        )
        assert why_threaded(handler) is None
        found = why_threaded(swapped)
        assert found is not None and reason in found, (name, found)


def test_source_that_differs_from_the_running_code_is_not_trusted() -> None:
    """The tree of ``counter`` put on another function's code: compiled, they differ."""

    def blocks(ctx: Context) -> Any:
        return ctx.scope["db"].execute()

    counter_code = counter.__code__
    swapped = FunctionType(
        blocks.__code__.replace(co_name="counter", co_firstlineno=counter_code.co_firstlineno),
        counter.__globals__,
    )
    assert why_threaded(swapped) is not None
