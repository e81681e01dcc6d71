"""Property-based attacks on a running app: random and malformed cookies, headers, queries, bodies.

For every example: no 5xx, and the victim's session (another browser on the
same server) is exactly as it was. Example counts are bounded so the suite
stays fast; each test starts one real server and throws every example at it.
"""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porch import content_type, cookie, download, get, header, post, redirect, run
from porch.context import Context
from porch.testing import SyncApi

HERE = Path(__file__).parent
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HEADER_BYTES = st.binary(max_size=300).map(
    lambda raw: bytes(b for b in raw if b not in b"\r\n\x00").strip()
)
TOKEN = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}", fullmatch=True)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain",
        "application/vnd.api+json",
        "application/octet-stream",
        "",
    ]
)


@get("/")
def page(ctx: Context) -> dict[str, Any]:
    ctx.session["visits"] = ctx.session.get("visits", 0) + 1
    return {"query": ctx.query, "cookies": len(ctx.cookies), "ip": ctx.ip, "url": ctx.url}


@post("/submit")
def submit(ctx: Context) -> dict[str, Any]:
    ctx.session["last"] = repr(ctx.data)[:200]
    return {"data": repr(ctx.data)[:200], "files": sorted(ctx.files)}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


class Victim:
    """A browser with a session that no attack may change."""

    def __init__(self, api: SyncApi) -> None:
        self.api = api
        api.get("/")
        self.cookie = api.cookies["session"]
        self.session = api.get("/read").body

    def is_untouched(self) -> bool:
        response = self.api.get("/read", headers={"cookie": f"session={self.cookie}"})
        untouched: bool = response.body == self.session
        return untouched


def send_raw(
    api: SyncApi,
    target: bytes,
    *,
    method: bytes = b"GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    host: bytes | None = None,
) -> int | None:
    """One request written byte for byte (no client library to tidy it up); its status.

    None when the server closed the connection without an answer: its HTTP
    parser refused the request, which is a refusal, not a failure.
    """
    return status_of(exchange(api, target, method=method, headers=headers, body=body, host=host))


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


def exchange(
    api: SyncApi,
    target: bytes,
    *,
    method: bytes = b"GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    host: bytes | None = None,
) -> bytes:
    """The whole answer to one raw request; b'' when the server closed without one."""
    parts = urlsplit(api.url)
    host = (parts.netloc or "").encode() if host is None else host
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + host]
    lines += [name + b": " + value for name, value in headers or []]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def refused_or_answered(status: int | None) -> bool:
    return status is None or status < 500


def test_random_cookies_never_fail_and_never_reach_another_session() -> None:
    with run(page, read, trust_proxy=True) as api:
        victim = Victim(api)

        @EXAMPLES
        @given(session=HEADER_BYTES.filter(lambda raw: b";" not in raw), extra=HEADER_BYTES)
        def attack(session: bytes, extra: bytes) -> None:
            cookie = b"session=" + session + b"; " + extra
            assert refused_or_answered(send_raw(api, b"/", headers=[(b"Cookie", cookie)]))
            assert victim.is_untouched()

        attack()


def test_a_victims_id_with_forged_signatures_never_opens_the_session() -> None:
    with run(page, read) as api:
        victim = Victim(api)
        session_id = victim.cookie.rpartition(".")[0].encode()

        @EXAMPLES
        @given(signature=HEADER_BYTES.filter(lambda raw: b";" not in raw))
        def attack(signature: bytes) -> None:
            cookie = b"session=" + session_id + b"." + signature
            status = send_raw(api, b"/read", headers=[(b"Cookie", cookie)])
            assert refused_or_answered(status)
            assert victim.is_untouched()

        attack()


HEADER_NAMES = st.one_of(
    TOKEN,
    st.sampled_from(
        [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-csrf-token",
            "accept-encoding",
            "transfer-encoding",
            "cookie",
            "range",
            "if-modified-since",
        ]
    ),
)


def test_random_headers_never_fail() -> None:
    with run(page, read, trust_proxy=True, security={"hosts": ["127.0.0.1"]}) as api:
        victim = Victim(api)

        @EXAMPLES
        @given(headers=st.lists(st.tuples(HEADER_NAMES, HEADER_BYTES), max_size=8))
        def attack(headers: list[tuple[str, bytes]]) -> None:
            raw = [(name.encode(), value) for name, value in headers]
            assert refused_or_answered(send_raw(api, b"/", headers=raw))
            assert victim.is_untouched()

        attack()


def test_random_query_strings_and_paths_never_fail() -> None:
    with run(page, read) as api:
        victim = Victim(api)
        target_bytes = st.binary(max_size=400).map(
            lambda raw: bytes(byte for byte in raw if byte > 0x20 and byte != 0x7F)
        )

        @EXAMPLES
        @given(path=target_bytes, query=target_bytes)
        def attack(path: bytes, query: bytes) -> None:
            assert refused_or_answered(send_raw(api, b"/" + path + b"?" + query))
            assert victim.is_untouched()

        attack()


def json_containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Lists and objects of ``inner``. A named function, not a lambda: Hypothesis reads
    a lambda's source to check that it recurses, and misreads this one on Python 3.13."""
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    json_containers,
    max_leaves=30,
)


def test_random_bodies_never_fail() -> None:
    with run(submit, page, read, security={"csrf": False, "json_depth": 8}) as api:
        victim = Victim(api)

        @EXAMPLES
        @given(
            body=st.one_of(
                st.binary(max_size=2000),
                JSON_VALUES.map(lambda value: orjson.dumps(value)),
                st.binary(max_size=300).map(
                    lambda raw: (
                        b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
                        + raw
                        + b"\r\n--xyz--\r\n"
                    )
                ),
            ),
            content_type=CONTENT_TYPES,
            method=st.sampled_from([b"POST", b"PUT", b"PATCH", b"DELETE"]),
        )
        def attack(body: bytes, content_type: str, method: bytes) -> None:
            headers = [(b"Content-Type", content_type.encode())] if content_type else []
            status = send_raw(api, b"/submit", method=method, headers=headers, body=body)
            assert refused_or_answered(status), (body[:100], content_type)
            assert victim.is_untouched()

        attack()


def test_cross_site_posts_without_the_token_are_always_refused() -> None:
    with run(submit, page, read) as api:
        victim = Victim(api)

        @EXAMPLES
        @given(
            token=st.one_of(
                st.text(PRINTABLE, max_size=120).map(str.strip),
                st.binary(min_size=64, max_size=64).map(
                    lambda raw: __import__("base64").urlsafe_b64encode(raw).decode().rstrip("=")
                ),
            ),
            as_header=st.booleans(),
        )
        def attack(token: str, as_header: bool) -> None:
            cookie = {"cookie": f"session={victim.cookie}"}  # the browser sends it cross-site
            if as_header:
                response = api.post("/submit", headers={**cookie, "x-csrf-token": token})
            else:
                response = api.post("/submit", headers=cookie, data={"_csrf": token})
            assert response.status == 403
            assert victim.is_untouched()

        attack()


# --- Host values: nothing but a listed host (and a numeric port) is ever let through ---

HOST_PARTS = st.sampled_from(
    [b"example.com", b"EXAMPLE.com", b"a.example.org", b"example.org", b"evil.com", b"[::1]", b""]
)
HOST_JOINS = st.sampled_from(
    [
        *(b":", b"@", b"/", b"\\", b":@", b".", b"..", b" ", b"#", b"?", b"%2f", b":80@"),
        *(b"\t", b"\x00", b":80", b":0", b":65536", b":+1", b"\xc3\xa9", b"\x85", b"_", b"-"),
        *(b"]", b"["),
    ]
)
HOST_VALUES = st.one_of(
    st.builds(lambda a, join, b: a + join + b, HOST_PARTS, HOST_JOINS, HOST_PARTS),
    st.builds(lambda a, join: a + join, HOST_PARTS, HOST_JOINS),
    st.binary(max_size=60).map(lambda raw: bytes(b for b in raw if b not in b"\r\n").strip()),
)
# What may pass the list below: checked apart from porch's own parser, by a stricter rule.
LISTED = re.compile(
    rb"(?:example\.com|(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)*example\.org)\.?(?::[0-9]{1,5})?"
)


def test_random_hosts_pass_the_allow_list_only_when_they_name_a_listed_host() -> None:
    with run(page, read, security={"hosts": ["example.com", ".example.org"]}) as api:

        @EXAMPLES
        @given(host=HOST_VALUES)
        def attack(host: bytes) -> None:
            status = send_raw(api, b"/", host=host)
            assert refused_or_answered(status), host
            if status == 200:  # the server strips the header's surrounding spaces and tabs
                host = host.strip(b" \t")
                assert LISTED.fullmatch(host.lower()), host
                port = host.rpartition(b":")[2]
                assert b":" not in host or 1 <= int(port) <= 65535, host

        attack()


def test_random_forwarded_hosts_are_read_as_strictly_as_the_host_header() -> None:
    with run(page, read, trust_proxy=1, security={"hosts": ["example.com", ".example.org"]}) as api:

        @EXAMPLES
        @given(forwarded=HOST_VALUES, client=HOST_VALUES)
        def attack(forwarded: bytes, client: bytes) -> None:
            headers = [(b"X-Forwarded-Host", client + b", " + forwarded)]
            status = send_raw(api, b"/", host=b"internal", headers=headers)
            assert refused_or_answered(status), forwarded
            if status == 200:  # the proxy's entry decided, never the client's
                assert LISTED.fullmatch(forwarded.strip(b" \t").lower()), (client, forwarded)

        attack()


# --- header values from reply helpers: a clean 500 or a response, never an empty reply ---


def reflected(make: Any) -> Any:
    return lambda ctx: make(ctx.query.get("v", ""))


REPLY_ROUTES = {
    "header": reflected(lambda value: header("X-Fuzz", value).send("ok")),
    "content_type": reflected(lambda value: content_type(f"text/plain; x={value}").send("ok")),
    "cookie": reflected(lambda value: cookie("fuzz", value).send("ok")),
    "cookie_path": reflected(lambda value: cookie("fuzz", "1", path=value).send("ok")),
    "cookie_domain": reflected(lambda value: cookie("fuzz", "1", domain=value).send("ok")),
    "redirect": reflected(lambda value: redirect(value)),
    "download": reflected(lambda value: download(__file__, value or "x", root=HERE)),
}
REPLY_VALUES = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: a + "\r\nX-Injected: 1" + b, st.text(max_size=10), st.text(max_size=10)),
    st.text(st.characters(max_codepoint=0x9F), max_size=20),
)


def test_random_values_in_reply_helpers_never_break_the_response() -> None:
    routes = [get(f"/{name}", handler) for name, handler in REPLY_ROUTES.items()]
    with run(*routes) as api:

        @EXAMPLES
        @given(helper=st.sampled_from(sorted(REPLY_ROUTES)), value=REPLY_VALUES)
        def attack(helper: str, value: str) -> None:
            target = f"/{helper}?v={quote(value, safe='', errors='surrogatepass')}".encode()
            answer = exchange(api, target)
            status = status_of(answer)
            assert status is not None and (status < 400 or status == 500), (helper, value)
            head = answer.split(b"\r\n\r\n", 1)[0].lower()
            assert b"\r\nx-injected" not in head, (helper, value)

        attack()


# --- path bytes with a public folder: the file system's refusals are 404s ---


def test_random_path_bytes_with_a_public_folder_never_fail(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (isolated_environment / "public").mkdir()
    (isolated_environment / "public" / "app.css").write_text("body {}")
    with run(page, read) as api:
        victim = Victim(api)
        segments = st.one_of(
            st.binary(max_size=40).map(lambda raw: quote(raw, safe="").encode()),
            st.integers(200, 3000).map(lambda size: b"a" * size),
            st.sampled_from([b"%00", b"app.css", b"..", b"%2e%2e", b"%ed%a0%80", b"%c0%af"]),
        )

        @EXAMPLES
        @given(path=st.lists(segments, min_size=1, max_size=5).map(b"/".join))
        def attack(path: bytes) -> None:
            assert refused_or_answered(send_raw(api, b"/" + path)), path[:100]
            assert victim.is_untouched()

        attack()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
