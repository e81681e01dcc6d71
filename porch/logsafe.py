"""Request text made safe to log: one request, one log line, whatever it contains.

A path is percent-decoded, so ``/%0aCRITICAL:porch:%20...`` would otherwise
write a line of the attacker's choosing into the log, and an ESC byte could
rewrite a terminal. Everything porch logs from a request (method, path, URL,
exception messages, which often quote input) goes through ``escape``:
every character ``str.isprintable`` refuses (C0 and C1 controls, DEL, line and
paragraph separators, lone surrogates, format characters such as bidi
overrides) is written as its Python escape (``\\n``, ``\\x1b``, ``\\u2028``).
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING

from starlette.responses import Response

if TYPE_CHECKING:
    from .protocols import Located

CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
CLIENT_GONE = 499
"""The access line's status for a client that left before its reply (nginx's "client closed")."""


def escape(text: str) -> str:
    """``text`` with each non-printable character as its escape: 'a\\nb' -> 'a\\\\nb'.

    Printable text, nearly every request, costs one C-level scan and is returned as it is.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else escaped(char) for char in text)


def escaped(char: str) -> str:
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def safe_traceback(exc: BaseException) -> str:
    """The traceback as ``traceback.format_exception`` writes it, each message escaped.

    The stack lines (files, line numbers, source) are porch's and the app's own;
    the message of each exception in the chain (``raise ... from``, or raised
    while handling another) may quote request input, so it is escaped and stays
    on its line.
    """
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, CONTEXT
        else:
            current = None
    parts: list[str] = []
    for error, link in reversed(chain):
        if error.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(error.__traceback__))
        message = "".join(traceback.format_exception_only(type(error), error)).rstrip("\n")
        parts.append(escape(message) + "\n")
        parts.append(link)
    return "".join(parts)


def client_gone(ctx: Located, log: logging.Logger) -> Response:
    """A client that hung up mid-request (mid-body, or mid-reply): a DEBUG line, no traceback.

    Anyone can disconnect on purpose, so it is neither a server error nor worth
    an ERROR line. The access line shows 499; the empty response is never
    delivered (the server drops what is sent to a closed connection).
    """
    log.debug(
        "%s %s: the client disconnected before the reply", escape(ctx.method), escape(ctx.path)
    )
    return Response(b"", CLIENT_GONE)
