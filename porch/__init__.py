"""porch: a batteries-included web server. Plain functions of ``ctx``, sessions safe by default.

```python
from porch import server, get

@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}

app = server(counter)
```
"""

import typing

from .app import App, server
from .context import Context
from .errors import (
    BadRequest,
    ConfigError,
    CorruptSession,
    Forbidden,
    HeadersTooLarge,
    HTTPError,
    PayloadTooLarge,
    PorchError,
    RequestTimeout,
    SessionError,
    SessionTooLarge,
    StoreError,
    StoreUnavailable,
    UnserializableValue,
)
from .reply import (
    content_type,
    cookie,
    download,
    file,
    header,
    json,
    redirect,
    render,
    send,
    status,
)
from .router import delete, error, get, head, patch, post, put, sub
from .socket import SocketContext, socket

if typing.TYPE_CHECKING:
    from .testing import run

_LAZY = ("run",)


def __getattr__(name: str) -> typing.Any:
    """``porch.run`` is imported on first use (PEP 562): it brings httpx, which a
    production worker never needs, so ``import porch`` stays light."""
    if name == "run":
        from .testing.server import run

        return run
    raise AttributeError(f"module 'porch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "App",
    "BadRequest",
    "ConfigError",
    "Context",
    "CorruptSession",
    "Forbidden",
    "HTTPError",
    "HeadersTooLarge",
    "PayloadTooLarge",
    "PorchError",
    "RequestTimeout",
    "SessionError",
    "SessionTooLarge",
    "SocketContext",
    "StoreError",
    "StoreUnavailable",
    "UnserializableValue",
    "content_type",
    "cookie",
    "delete",
    "download",
    "error",
    "file",
    "get",
    "head",
    "header",
    "json",
    "patch",
    "post",
    "put",
    "redirect",
    "render",
    "run",
    "send",
    "server",
    "socket",
    "status",
    "sub",
]
