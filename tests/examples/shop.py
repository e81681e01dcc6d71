"""A small shop whose order page has a bug: the app the error-page browser test serves."""

from __future__ import annotations

from porch import get
from porch.context import Context

ORDERS = {"1": {"item": "tea", "quantity": 2}}


@get("/login")
def login(ctx: Context) -> str:
    ctx.session["user"] = "ada"
    ctx.session["api_token"] = "tok-in-the-session-123"
    return "signed in"


@get("/orders/:id")
def show_order(ctx: Context) -> dict[str, object]:
    order = ORDERS[ctx.params["id"]]  # a missing order is a KeyError: the bug on show
    return {"order": order, "sorted_by": ctx.query.get("sort")}
