"""The sessions tutorial's visit counter: each browser sees its own count climb.

Run it with ``scripts/counter`` (or ``python examples/counter/app.py``) and open
http://localhost:3000; set SECRET and REDIS_URL in .env to make it production-ready.

``curl`` and other programs get the JSON of the README's counter,
``{"views": 1}``; a browser, which asks for HTML first, gets the same count
on a page (views/counter.html).
"""

from pathlib import Path

from porch import get, render, server

HERE = Path(__file__).resolve().parent


def wants_html(ctx):
    """Browsers list text/html in Accept; curl sends */*, and API clients JSON."""
    return "text/html" in ctx.headers.get("accept", "")


@get("/")
def counter(ctx):
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    if wants_html(ctx):
        return render("counter.html", views=ctx.session["views"])
    return {"views": ctx.session["views"]}


app = server(
    counter,
    views=str(HERE / "views"),
    public=str(HERE / "public"),
    favicon=str(HERE / "public" / "favicon.png"),  # browsers ask every page for /favicon.ico
)

if __name__ == "__main__":
    app.run()
