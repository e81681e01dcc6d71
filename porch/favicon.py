"""The ``favicon`` option: one file answered at /favicon.ico before the routes run.

Browsers ask for it on every page, so it is cached a day and revalidated by
ETag (Starlette's file response), and a file removed since start-up lets the
routes (or the 404) answer instead of failing.
"""

from __future__ import annotations

import os

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# A day: browsers ask for the favicon on every page, and a changed one still shows by tomorrow.
FAVICON_CACHE = "public, max-age=86400"


class Favicon:
    """The file of the ``favicon`` option, served for GET and HEAD of /favicon.ico."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.files = StaticFiles(directory=None)

    def serve(self, method: str, scope: Scope) -> Response | None:
        """The file's response, or None to let the routes answer (another method, file gone)."""
        if method not in ("GET", "HEAD"):
            return None
        try:
            found = os.stat(self.path)
        except OSError:  # removed since start-up: let the routes (or 404) answer
            return None
        response = self.files.file_response(self.path, found, scope)
        response.headers["cache-control"] = FAVICON_CACHE
        return response
