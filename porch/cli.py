"""The ``porch`` command: ``serve``, ``sessions count|purge``, ``secret``.

```
porch serve app:app --port 8080 --workers 4     # uvicorn, as app.run() but from the shell
porch sessions count app:app                    # live sessions in that app's store
porch sessions purge app:app                    # delete expired ones, print how many
porch secret                                    # a new random SECRET for .env
```
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Sequence

from .app import App
from .errors import ConfigError, PorchError
from .session.stores import MemoryStore, Store


def load_app(target: str) -> App:
    """Import ``module:attribute`` from the working directory; it must be a porch app."""
    from uvicorn.importer import ImportFromStringError, import_from_string

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app = import_from_string(target)
    except ImportFromStringError as exc:
        raise ConfigError(f"cannot load {target!r}: {exc}") from exc
    if not isinstance(app, App):
        raise ConfigError(
            f"{target!r} is a {type(app).__name__}, not a porch app; point at the object "
            "server(...) returned, e.g. app:app for `app = server(...)` in app.py."
        )
    return app


def check_workers(app: App, workers: int) -> None:
    """Memory sessions live in one process: several workers would split every visitor's session."""
    if workers > 1 and isinstance(app.store, MemoryStore):
        raise ConfigError(
            f"--workers {workers} with the memory session store would give each worker its own "
            "sessions, so visitors would lose theirs between requests. Use a shared store: set "
            "REDIS_URL=redis://localhost:6379/0, or SESSION_STORE=sqlite:///sessions.db."
        )


def share_development_secret(app: App, workers: int) -> None:
    """Workers must sign cookies alike: hand a generated secret to all of them."""
    if (
        workers > 1
        and app.options.secret.generated
        and "SECRET" not in os.environ
        and "SESSION_SECRET" not in os.environ
    ):
        os.environ["SECRET"] = secrets.token_urlsafe(32)


def serve(target: str, *, port: int | None, host: str, workers: int, reload: bool) -> None:
    import uvicorn

    app = load_app(target)
    check_workers(app, workers)
    share_development_secret(app, workers)
    uvicorn.run(
        target if workers > 1 or reload else app,
        host=host,
        port=app.options.port if port is None else port,
        workers=workers if workers > 1 else None,
        reload=reload,
        log_level=app.options.log,
        access_log=False,  # porch writes its own access line, on porch.access
        proxy_headers=False,  # porch decides whom to trust: the trust_proxy option
        server_header=False,
        app_dir=os.getcwd(),
    )


async def count_sessions(app: App) -> int:
    store = require_store(app)
    await app.open()
    try:
        return await store.count()
    finally:
        await app.close()


async def purge_sessions(app: App) -> int:
    store = require_store(app)
    await app.open()
    try:
        return await store.purge()
    finally:
        await app.close()


def require_store(app: App) -> Store:
    if app.store is None:
        raise ConfigError("this app has sessions turned off (session=False), so it has no store.")
    return app.store


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="porch", description="porch: serve an app, manage sessions.")
    commands = top.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser("serve", help="serve module:app with uvicorn")
    serve_command.add_argument("app", help="module:attribute, e.g. app:app")
    serve_command.add_argument("--port", type=int, default=None, help="beats PORT and port=")
    serve_command.add_argument("--host", default="0.0.0.0")
    serve_command.add_argument("--workers", type=int, default=1)
    serve_command.add_argument("--reload", action="store_true", help="restart on code changes")
    sessions_command = commands.add_parser("sessions", help="count or purge stored sessions")
    sessions_command.add_argument("action", choices=["count", "purge"])
    sessions_command.add_argument("app", help="module:attribute, e.g. app:app")
    commands.add_parser("secret", help="print a new random SECRET for .env")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "serve":
            if arguments.workers < 1:
                raise ConfigError(f"--workers is {arguments.workers}; it must be at least 1.")
            serve(
                arguments.app,
                port=arguments.port,
                host=arguments.host,
                workers=arguments.workers,
                reload=arguments.reload,
            )
        elif arguments.command == "sessions":
            app = load_app(arguments.app)
            action = count_sessions if arguments.action == "count" else purge_sessions
            print(asyncio.run(action(app)))
        elif arguments.command == "secret":
            print(secrets.token_urlsafe(32))
    except (PorchError, NotImplementedError) as exc:
        print(f"porch: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
