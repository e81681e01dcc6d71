"""The sessions tutorial's visit counter: each browser sees its own count climb.

Run it with ``scripts/counter`` (or ``python examples/counter/app.py``) and open
http://localhost:3000; set SECRET and REDIS_URL in .env to make it production-ready.
"""

from porch import get, server


@get("/")
def counter(ctx):
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


app = server(counter)

if __name__ == "__main__":
    app.run()
