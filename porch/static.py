"""The ``public`` folder: its files served at the site root, before any middleware or route.

Starlette's ``StaticFiles`` does the serving (ETag, Last-Modified, 304, Range).
What porch adds is the question asked on every GET: does this path name a file?
"""

from __future__ import annotations

import os
import stat
import time

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

MISS_SECONDS = 1.0
"""How long a path found to name no file is answered "no file" without looking again."""
MISSES = 4096
"""Paths remembered as missing, at most (the oldest is forgotten first)."""


class PublicFolder:
    """The ``public`` option's folder, asked first by every GET and HEAD.

    Most requests of a site with a ``public`` folder are for routes, not files,
    and ``StaticFiles`` answers "no such file" with a ``realpath`` and a
    ``stat``: several system calls, about 20 µs, on every request to
    ``/api/users``. A path found missing is remembered for ``MISS_SECONDS``, so
    the next requests for it cost a dict lookup. A file added to the folder is
    served within that second; a file removed is gone at once, because found
    files are never remembered. A path never escapes the folder.

    The path is the client's, so the file system may refuse it (a NUL byte, a
    name or a path too long, a lone surrogate, a file where a folder was
    expected, a folder porch may not enter): each means "no such file" here, and
    the routes answer, never a 500. A file porch may not read is not served either.
    """

    def __init__(self, directory: str) -> None:
        self.files = StaticFiles(directory=directory)
        self.misses: dict[str, float] = {}  # path -> time.monotonic() of the miss

    def response(self, scope: Scope) -> Response | None:
        """The file's response when the path names a file of the folder, else None."""
        path: str = scope["path"]
        relative = path.lstrip("/")
        if not relative or relative.endswith("/"):
            return None
        missed = self.misses.get(path)
        if missed is not None and time.monotonic() - missed < MISS_SECONDS:
            return None
        try:
            full_path, found = self.files.lookup_path(os.path.normpath(relative))
        except (OSError, ValueError):
            found = None  # the file system refused the path (too long, NUL...): no such file
        if found is None or not stat.S_ISREG(found.st_mode) or not readable(full_path):
            self.remember_miss(path)
            return None
        self.misses.pop(path, None)
        return self.files.file_response(full_path, found, scope)

    def remember_miss(self, path: str) -> None:
        misses = self.misses
        misses.pop(path, None)  # re-inserted at the end: the newest miss
        if len(misses) >= MISSES:
            del misses[next(iter(misses))]
        misses[path] = time.monotonic()


def readable(full_path: str) -> bool:
    """Whether the file can be opened: one that cannot would fail after the reply started."""
    return os.access(full_path, os.R_OK)
