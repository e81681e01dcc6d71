"""``module:attribute``: the app a command names, imported from the working directory.

``porch serve app:app`` and ``porch sessions count app:app`` name the app this
way, and so does every Granian worker that imports the app itself (several
workers, or reload). uvicorn's importer does the import, as it does for
uvicorn's own workers; the working directory goes on ``sys.path`` first, so
``app:app`` finds ``app.py`` where the command ran, as it does for uvicorn.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .errors import ConfigError


def import_target(target: str) -> Any:
    """Import ``module:attribute`` from the working directory; a ConfigError names a bad one.

    Whether it is a porch app is the caller's question (``porch.cli.load_app``):
    a server's worker only needs what the command already checked.
    """
    from uvicorn.importer import ImportFromStringError, import_from_string

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return import_from_string(target)
    except ImportFromStringError as exc:
        raise ConfigError(f"cannot load {target!r}: {exc}") from exc
