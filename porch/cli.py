"""The ``porch`` command: ``init``, ``serve``, ``sessions count|purge``, ``secret``.

```
porch init myapp                                # a new app: app.py, .env with a SECRET, ...
porch serve app:app --port 8080 --workers 4     # as app.run(), from the shell (Granian)
porch sessions count app:app                    # live sessions in that app's store
porch sessions purge app:app                    # delete expired ones, print how many
porch routes app:app                            # method, path, handler, where defined
porch secret                                    # a new random SECRET for .env
```
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .app import App
from .errors import ConfigError, PorchError
from .session.stores import Store
from .target import import_target


@contextmanager
def start_up_notices_hidden() -> Iterator[None]:
    """Leave out porch's start-up warnings (the missing-SECRET notice) while loading an app
    only to read it: they are about serving it, and ``porch sessions count`` prints a number."""
    notices = logging.getLogger("porch")

    def errors_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    notices.addFilter(errors_only)
    try:
        yield
    finally:
        notices.removeFilter(errors_only)


def load_app(target: str) -> App:
    """Import ``module:attribute`` from the working directory; it must be a porch app."""
    app = import_target(target)
    if not isinstance(app, App):
        raise ConfigError(
            f"{target!r} is a {type(app).__name__}, not a porch app; point at the object "
            "server(...) returned, e.g. app:app for `app = server(...)` in app.py."
        )
    return app


def check_workers(app: App, workers: int) -> None:
    """Sessions that live in one process (``Store.per_process``, as memory ones do): several
    workers would split every visitor's session."""
    if workers > 1 and app.store is not None and app.store.per_process:
        raise ConfigError(
            f"--workers {workers} with the session store {app.store!r}, which keeps sessions in "
            "this one process, would give each worker its own sessions, so visitors would lose "
            "theirs between requests. Use a shared store: set REDIS_URL=redis://localhost:6379/0, "
            "or SESSION_STORE=sqlite:///sessions.db."
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


def serve(
    target: str,
    *,
    port: int | None,
    host: str | None,
    workers: int,
    reload: bool,
    server: str | None = None,
) -> None:
    """``porch serve``: the app's options, each flag beating its variable (see porch.serve)."""
    from .serve import serve as serve_app
    from .serve import settings_for

    app = load_app(target)
    settings = settings_for(
        app, host=host, port=port, server=server, workers=workers, reload=reload, target=target
    )
    check_workers(app, workers)
    share_development_secret(app, workers)
    serve_app(app, settings)


async def count_sessions(app: App) -> int:
    store = require_store(app, "count")
    await app.open()
    try:
        return await store.count()
    finally:
        await app.close()


async def purge_sessions(app: App) -> int:
    store = require_store(app, "purge")
    await app.open()
    try:
        return await store.purge()
    finally:
        await app.close()


def require_store(app: App, action: str) -> Store:
    if app.store is None:
        raise ConfigError("this app has sessions turned off (session=False), so it has no store.")
    if app.store.per_process:  # as the memory store: also when encrypted or measured
        raise PorchError(
            f"the session store {app.store!r} lives inside the server's process, so "
            f"`porch sessions {action}` cannot reach it from outside (it would see a new, empty "
            "store). Use a shared store to manage sessions from the shell: "
            "REDIS_URL=redis://localhost:6379/0 "
            "or SESSION_STORE=sqlite:///sessions.db; from inside the app, "
            f"await ctx.store.{action}() works with any store."
        )
    return app.store


COUNTER_APP = """\
from porch import get, server


@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}


app = server(counter)
if __name__ == '__main__':
    app.run()
"""
GITIGNORE = """\
# .env holds SECRET (and REDIS_URL's password): it never goes into git.
.env
__pycache__/
.venv/
*.db
*.db-wal
*.db-shm
*.db-journal
"""


def dotenv_with_a_new_secret() -> str:
    return (
        "# Read by porch at start-up; never commit this file (.gitignore excludes it).\n"
        "# SECRET signs the session cookies: keep it, or every visitor loses their session.\n"
        f"SECRET={secrets.token_urlsafe(32)}\n"
        "# REDIS_URL=redis://localhost:6379/0   # sessions shared by every worker and machine\n"
    )


def init(folder: Path) -> list[str]:
    """Scaffold a new app in ``folder``: the counter, a .env with a fresh SECRET, a .gitignore.

    Refuses, writing nothing, when any of those files already exists: a SECRET
    or an app is never overwritten. Returns what it created, for the message.
    """
    files = {
        "app.py": COUNTER_APP,
        ".env": dotenv_with_a_new_secret(),
        ".gitignore": GITIGNORE,
    }
    taken = [name for name in files if (folder / name).exists()]
    taken += [name for name in ("public", "views") if (folder / name).is_file()]
    if taken:
        raise PorchError(
            f"porch init did not touch {folder}: it already has {', '.join(taken)}, and init "
            "never overwrites a file. Run it in a new folder (porch init myapp), or move "
            "those files away."
        )
    for name in ("public", "views"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        private = 0o600 if name == ".env" else 0o644  # .env holds the secret
        descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
    return [*files, "public/", "views/"]


def version() -> str:
    """The installed porch's version (its package metadata), for ``porch --version``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("porch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="porch", description="porch: serve an app, manage sessions.")
    commands = top.add_subparsers(dest="command", required=True)
    init_command = commands.add_parser("init", help="scaffold a new app in a folder")
    init_command.add_argument("folder", nargs="?", default=".", help="default: this folder")
    top.add_argument("--version", action="version", version=f"porch {version()}")
    serve_command = commands.add_parser("serve", help="serve module:app (Granian, or uvicorn)")
    serve_command.add_argument("app", help="module:attribute, e.g. app:app")
    serve_command.add_argument("--port", type=int, default=None, help="beats PORT and port=")
    serve_command.add_argument("--host", default=None, help="beats HOST; default 127.0.0.1")
    serve_command.add_argument(
        "--server", default=None, help="granian (the default) or uvicorn; beats SERVER"
    )
    serve_command.add_argument("--workers", type=int, default=1)
    serve_command.add_argument("--reload", action="store_true", help="restart on code changes")
    sessions_command = commands.add_parser("sessions", help="count or purge stored sessions")
    sessions_command.add_argument("action", choices=["count", "purge"])
    sessions_command.add_argument("app", help="module:attribute, e.g. app:app")
    routes_command = commands.add_parser(
        "routes", help="list the routes: method, path, handler, where defined"
    )
    routes_command.add_argument("app", help="module:attribute, e.g. app:app")
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
                server=arguments.server,
            )
        elif arguments.command == "sessions":
            with start_up_notices_hidden():
                app = load_app(arguments.app)
            action = count_sessions if arguments.action == "count" else purge_sessions
            print(asyncio.run(action(app)))
        elif arguments.command == "routes":
            from .listing import route_listing

            with start_up_notices_hidden():
                app = load_app(arguments.app)
            print(route_listing(app))
        elif arguments.command == "init":
            folder = Path(arguments.folder)
            created = init(folder)
            where = "" if arguments.folder == "." else f"cd {arguments.folder}\n  "
            print(
                f"Created {', '.join(created)} in {folder.resolve()}.\n"
                f"Next:\n  {where}porch serve app:app     # http://localhost:3000"
            )
        elif arguments.command == "secret":
            print(secrets.token_urlsafe(32))
    except (PorchError, NotImplementedError) as exc:
        print(f"porch: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
