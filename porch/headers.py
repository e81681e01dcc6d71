"""What a response may carry: the checks on a status, a header name and a header value.

Every reply helper checks what it is given, and the finished response is
checked once more (a handler may return a Starlette ``Response`` of its own):
a bad status or header is a clean 500 from the handler, never a header
injected into the response or a connection the server drops mid-response.
"""

from __future__ import annotations

import re

from starlette.responses import Response

# A header or cookie name is an RFC 9110 token; a value holds no control character but tab.
# Checked when the reply is built, so a bad one is a clean 500 from the handler, never a
# header injected into the response or a connection the server drops mid-response.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
TOKEN_BYTES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def check_header(name: str, value: str) -> None:
    """Refuse a header that would break the response or inject another header."""
    if not isinstance(name, str) or not TOKEN.fullmatch(name):
        raise ValueError(f"header {name!r}: a header name is a word such as 'X-Request-Id'.")
    if CONTROL.search(value):
        raise ValueError(f"header {name!r}: a header value is a single-line string.")
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"header {name!r}: {value[:60]!r} holds characters a header cannot carry "
                "(only Latin-1); percent-encode them, e.g. with urllib.parse.quote."
            ) from None


def can_encode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_response(response: Response) -> Response:
    """Refuse a response the server would break off once started: a clean 500 instead.

    Every reply helper checks what it is given; this also covers a Starlette
    ``Response`` a handler returns itself. A status outside 100-599, a header
    name that is not a token or a value with a line break or NUL would make the
    server drop the connection after the response began, and the client would
    get an empty reply rather than the 500 (and the error handlers) it should.
    """
    code = response.status_code
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        raise ValueError(f"the reply's status is {code!r}; a status is a whole number 100-599.")
    for name, value in response.raw_headers:
        if not TOKEN_BYTES.fullmatch(name) or CONTROL_BYTES.search(value):
            raise ValueError(
                f"the reply's header {name[:60]!r}: {value[:60]!r} is not a header; a name is "
                "a word such as b'x-request-id' and a value one line without control characters."
            )
    return response
