"""The counter on Litestar: server-side sessions in Redis (its RedisStore)."""

import os
from typing import Any

from litestar import Litestar, Request, get
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.redis import RedisStore


@get("/")
async def counter(request: Request[Any, Any, Any]) -> dict[str, int]:
    views = int(request.session.get("views", 0)) + 1
    request.session["views"] = views
    return {"views": views}


app = Litestar(
    route_handlers=[counter],
    middleware=[ServerSideSessionConfig(max_age=14 * 24 * 3600).middleware],
    stores={"sessions": RedisStore.with_client(url=os.environ["REDIS_URL"])},
    openapi_config=None,
)
