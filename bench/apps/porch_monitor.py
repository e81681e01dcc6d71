"""The README counter plus a read-only route, to record the Redis commands of each path.

``/`` writes on every request (the counter); ``/peek`` only reads the session, so
it shows what a request that changes nothing costs. Used for the MONITOR section
of docs/benchmarks.md, not timed.
"""

from porch_counter import counter

from porch import get, server


@get("/peek")
def peek(ctx):
    return {"views": ctx.session.get("views", 0)}


app = server(counter, peek)
