"""The counter on aiohttp + aiohttp-session (RedisStorage), on aiohttp's own server.

aiohttp is not an ASGI framework, so it runs as its authors intend: its own HTTP
server (C parser) on uvloop. For ``--workers N`` the parent binds one socket and
forks N processes that accept on it, which is what ``uvicorn --workers N`` does.
"""

import argparse
import os
import socket
import sys

import aiohttp_session
import uvloop
from aiohttp import web
from aiohttp_session.redis_storage import RedisStorage
from redis.asyncio import Redis


async def counter(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session["views"] = session.get("views", 0) + 1
    return web.json_response({"views": session["views"]})


async def make_app() -> web.Application:
    app = web.Application()
    storage = RedisStorage(
        Redis.from_url(os.environ["REDIS_URL"]), max_age=14 * 24 * 3600, samesite="Lax"
    )
    aiohttp_session.setup(app, storage)
    app.router.add_get("/", counter)
    return app


def serve(sock: socket.socket) -> None:
    web.run_app(make_app(), sock=sock, access_log=None, print=None, loop=uvloop.new_event_loop())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    arguments = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((arguments.host, arguments.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    if arguments.workers == 1:
        serve(sock)
        return
    children = []
    for _ in range(arguments.workers):
        pid = os.fork()
        if pid == 0:
            serve(sock)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    sys.exit(0)


if __name__ == "__main__":
    main()
