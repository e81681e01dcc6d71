"""Is the session store answering? Asked once at start-up, and by the ``health`` endpoint.

At start-up the answer is only logged: a store may come up after the app (a
container started first), and requests that never touch the session keep
working meanwhile, so refusing to start would turn a slow Redis into an outage.
The ``health`` option (``health='/health'``, env ``HEALTH``) serves two
endpoints for load balancers and orchestrators:

- ``GET /health``: liveness, 200 as long as the process answers HTTP;
- ``GET /health/ready``: readiness, 200 when the session store answered a read
  within the ``session.timeout`` option, 503 when it did not.

Both are answered before the host check, the session and CSRF (a load balancer
probes by IP address, without cookies), and never touch the application's routes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import Response

from .errors import StoreUnavailable
from .session.stores import Store, innermost

if TYPE_CHECKING:
    from .context import Context, Responder
    from .options import Options

STARTUP_CHECK_SECONDS = 2.0
# A key no session can have (session keys are SHA-256 of 256-bit random ids):
# reading it is a real round trip that finds nothing and changes nothing.
PROBE_KEY = hashlib.sha256(b"porch health probe").hexdigest()
JSON = "application/json"


@dataclass(frozen=True)
class StoreAnswer:
    """The outcome of one probe: ``problem`` is None when the store answered.

    ``unreachable`` tells a store that could not be reached or timed out (porch
    answers 503 meanwhile) from one that answered with an error (a database
    number Redis does not have, a bug in a custom store: those fail requests).
    """

    problem: str | None
    seconds: float
    unreachable: bool = False

    @property
    def answered(self) -> bool:
        return self.problem is None


async def probe(store: Store, *, timeout: float) -> StoreAnswer:
    """Read a key that does not exist, bounded by ``timeout``; any failure is an answer too."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await store.load(PROBE_KEY)
    except TimeoutError:
        problem = (
            f"No answer within {timeout:g} s. Requests that use the session answer 503 until "
            "it answers; check that it is running and that REDIS_URL / SESSION_STORE point at it."
        )
        return StoreAnswer(problem, timeout, unreachable=True)
    except StoreUnavailable as exc:  # refused: it answered, with an error (wrong db, password)
        return StoreAnswer(str(exc), time.perf_counter() - started, unreachable=not exc.refused)
    except Exception as exc:  # what a misconfigured backend or a user's store raises
        problem = f"{type(exc).__name__}: {exc}"
        return StoreAnswer(problem, time.perf_counter() - started)
    return StoreAnswer(None, time.perf_counter() - started)


async def report_store(store: Store, log: logging.Logger) -> StoreAnswer | None:
    """Log, once at start-up, whether the store answered; never stop the app for it.

    A store whose sessions live in this process (``Store.per_process``, as the
    memory store's do) has nothing to reach: nothing to report, and no call a
    test counting the store's calls would see.
    """
    if store.per_process:
        return None
    backend = innermost(store)  # not the metrics wrapper: a probe is not a session call
    answer = await probe(backend, timeout=STARTUP_CHECK_SECONDS)
    if answer.answered:
        log.info("The session store %r answered in %.0f ms.", store, answer.seconds * 1000)
    elif answer.unreachable:
        # The problem is StoreUnavailable's message, which says what to check.
        log.warning(
            "The session store %r did not answer at start-up; porch starts anyway. %s",
            store,
            answer.problem,
        )
    else:
        log.error(
            "The session store %r answered with an error at start-up (%s). porch starts "
            "anyway, but requests that use the session fail until this is fixed.",
            store,
            answer.problem,
        )
    return answer


class HealthEndpoint:
    """Liveness at ``path``, readiness at ``path + '/ready'``; see the module docstring."""

    def __init__(self, path: str, store: Store | None, *, timeout: float, log: logging.Logger):
        self.live = path
        self.ready = f"{path}/ready"
        self.store = store
        self.timeout = timeout
        self.log = log

    def serves(self, path: str) -> bool:
        return path == self.live or path == self.ready

    async def response(self, method: str, path: str) -> Response:
        if method not in ("GET", "HEAD"):
            return Response(b'{"status":"method not allowed"}', 405, media_type=JSON,
                            headers={"allow": "GET, HEAD"})  # fmt: skip
        headers = {"cache-control": "no-store"}
        if path == self.live or self.store is None:
            return Response(b'{"status":"ok"}', 200, media_type=JSON, headers=headers)
        answer = await probe(self.store, timeout=self.timeout)
        if answer.answered:
            return Response(b'{"status":"ok","store":"ok"}', 200, media_type=JSON, headers=headers)
        self.log.warning("%s: 503, the session store is not ready (%s)", path, answer.problem)
        body = b'{"status":"unavailable","store":"unavailable"}'
        return Response(body, 503, media_type=JSON, headers=headers)


def serve_health(
    respond: Responder, options: Options, store: Store | None, log: logging.Logger
) -> Responder:
    """``respond`` with the health endpoints answered before it; ``respond`` itself when
    the ``health`` option is off, so an app without it runs no check per request."""
    if options.health is None:
        return respond
    timeout = options.session.timeout if options.session is not None else 2.0
    probed = None if store is None else innermost(store)  # probes are not session calls
    endpoint = HealthEndpoint(options.health, probed, timeout=timeout, log=log)

    async def respond_or_health(ctx: Context) -> Response:
        if endpoint.serves(ctx.path):
            return await endpoint.response(ctx.method, ctx.path)
        return await respond(ctx)

    return respond_or_health
