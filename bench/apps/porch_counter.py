# The README's counter, unchanged but for these comments and the noqa: the benchmark
# measures what users write. Its store comes from the environment (REDIS_URL, or
# SESSION_STORE for memory:// and sqlite:///), its signing key from SECRET.
from porch import server, get  # noqa: I001

@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}

app = server(counter)
if __name__ == '__main__':
    app.run()
