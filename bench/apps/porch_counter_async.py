# The README's counter written as `async def`: the same work, without the worker
# thread porch runs a plain `def` handler in. Shown beside the README version so
# the cost of that thread is measured, not guessed.
from porch import server, get  # noqa: I001

@get('/')
async def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}

app = server(counter)
