"""The counter on Starlette + starsessions (server-side sessions in Redis, its RedisStore)."""

import os

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starsessions import SessionAutoloadMiddleware, SessionMiddleware
from starsessions.stores.redis import RedisStore


async def counter(request: Request) -> JSONResponse:
    request.session["views"] = request.session.get("views", 0) + 1
    return JSONResponse({"views": request.session["views"]})


store = RedisStore(connection=Redis.from_url(os.environ["REDIS_URL"]))
app = Starlette(
    routes=[Route("/", counter)],
    middleware=[
        Middleware(
            SessionMiddleware, store=store, lifetime=14 * 24 * 3600, cookie_https_only=False
        ),
        Middleware(SessionAutoloadMiddleware),
    ],
)
