"""Running an app: the server choice, where it listens, slow clients, and a graceful stop.

Each test runs on both servers (``each_server``): Granian, the default, and uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from porch import get, post, run, server
from porch.cli import GITIGNORE, main
from porch.context import Context
from porch.errors import ConfigError
from porch.option_types import SecuritySettings
from porch.serve import settings_for

if TYPE_CHECKING:
    from tests.serve_process import free_port, serving, wait_until_answering
else:
    from serve_process import free_port, serving, wait_until_answering

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers
OFF: SecuritySettings = {"csrf": False}


@get("/")
def home(ctx: Context) -> str:
    return "home"


@post("/echo")
def echo(ctx: Context) -> str:
    return "received"


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 0


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (reset counts too)."""
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


# --- slow clients (issue: a header line or body byte every few seconds held a connection) ---


def test_a_head_that_dribbles_in_is_closed_after_header_timeout() -> None:
    with run(home, header_timeout=1) as api:
        sock = socket.create_connection(address(api.url))
        sock.setblocking(False)
        try:
            sock.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
            closed = False
            for _ in range(100):  # a header line every 0.2 s: 20 s if nothing bounds it
                time.sleep(0.2)
                if closed_by_server(sock):
                    closed = True
                    break
                try:
                    sock.send(b"X-Slow: 1\r\n")
                except OSError:
                    closed = True
                    break
            assert closed, "a head that never ends kept its connection"
            assert api.get("/").status == 200  # and the server goes on answering
        finally:
            sock.close()


def test_on_uvicorn_a_connection_that_sends_nothing_is_closed_after_header_timeout() -> None:
    """Granian leaves a silent connection open (docs/deployment.md): max_concurrency bounds it."""
    with run(home, header_timeout=1, server="uvicorn") as api:
        sock = socket.create_connection(address(api.url))
        sock.settimeout(30)
        try:
            assert sock.recv(100) == b""  # closed, with nothing said; not left open for 30 s
        except ConnectionResetError:
            pass
        finally:
            sock.close()


def test_a_body_that_dribbles_in_is_a_408_after_body_timeout() -> None:
    with run(echo, body_timeout=1, security=OFF) as api:
        sock = socket.create_connection(address(api.url))
        sock.setblocking(False)
        answer = b""
        try:
            sock.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(100):  # a byte every 0.2 s: 200 s for the whole body
                time.sleep(0.2)
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    chunk = None
                except OSError:
                    break
                if chunk == b"":
                    break
                if chunk:
                    answer += chunk
                    if b"body_timeout" in answer:  # the whole answer: no need to wait for the close
                        break
                    continue
                try:
                    sock.send(b"x")
                except OSError:
                    break
        finally:
            sock.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert b"body_timeout" in answer


def test_many_idle_half_sent_requests_do_not_starve_a_normal_one() -> None:
    with run(home, header_timeout=1) as api:
        idle = [socket.create_connection(address(api.url)) for _ in range(200)]
        try:
            for sock in idle:
                sock.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
            assert api.get("/").status == 200
        finally:
            for sock in idle:
                sock.close()


@get("/sleep")
async def sleep(ctx: Context) -> str:
    await asyncio.sleep(0.5)
    return "slept"


async def test_requests_beyond_max_concurrency_wait_on_granian_and_get_503_on_uvicorn(
    each_server: str,
) -> None:
    # Granian counts a kept-alive connection against max_concurrency until its next request
    # head is due (header_timeout): the first two clients hold their slots that long after
    # their answers, so a short header_timeout keeps this test short (10 s: over 20 s).
    async with run(sleep, max_concurrency=2, header_timeout=1) as api:
        clients = [httpx.AsyncClient(base_url=api.url, timeout=30) for _ in range(5)]
        try:
            answers = await asyncio.gather(*(client.get("/sleep") for client in clients))
        finally:
            for client in clients:
                await client.aclose()
        assert (await api.get("/sleep")).status == 200  # alone again: answered
    statuses = sorted(answer.status_code for answer in answers)
    if each_server == "granian":
        assert statuses == [200] * 5  # the others waited in the listen queue
    else:
        assert 503 in statuses  # uvicorn refuses beyond its limit (connections count too)


# --- the options: server, host ---


def test_a_bad_server_fails_at_start_up_naming_the_option_and_the_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SERVER")  # the variable beats the argument
    accepted = "accepted: granian, uvicorn"
    with pytest.raises(ConfigError, match=rf"option 'server' is 'nginx'; {accepted}"):
        server(home, server="nginx")  # type: ignore[arg-type]  # the wrong value is the point
    monkeypatch.setenv("SERVER", "gunicorn")
    with pytest.raises(ConfigError, match=rf"SERVER .* is 'gunicorn'; {accepted}"):
        server(home)


def test_porch_serve_refuses_a_bad_server_flag(capsys: pytest.CaptureFixture[str]) -> None:
    Path("app.py").write_text(
        "from porch import get, server\napp = server(get('/', lambda c: 'x'))\n"
    )
    assert main(["serve", "app:app", "--server", "hypercorn"]) == 2
    assert "--server is 'hypercorn'; accepted: granian, uvicorn" in capsys.readouterr().err


def test_host_defaults_to_loopback_and_a_flag_beats_its_variable(
    monkeypatch: pytest.MonkeyPatch, each_server: str
) -> None:
    assert settings_for(server(home)).host == "127.0.0.1"
    assert settings_for(server(home)).server == each_server
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert settings_for(server(home)).host == "0.0.0.0"
    assert settings_for(server(home), host="::1").host == "::1"
    assert settings_for(server(home), server="uvicorn").server == "uvicorn"


def test_the_start_up_line_says_where_it_listens(
    isolated_environment: Path, each_server: str
) -> None:
    (isolated_environment / "app.py").write_text(
        "from porch import get, server\napp = server(get('/', lambda ctx: 'hi'))\n"
    )
    log = isolated_environment / "serve.log"
    with serving("app:app", log_to=log, env={"LOG": "info"}) as url:
        assert httpx.get(url + "/").text == "hi"
    assert f"listening on {url} ({each_server}, 1 worker)" in log.read_text()


def test_version_and_gitignore(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("porch ")
    for suffix in ("*.db", "*.db-wal", "*.db-shm"):
        assert suffix in GITIGNORE.splitlines()


def test_reload_serves_the_changed_code(isolated_environment: Path) -> None:
    app = isolated_environment / "app.py"
    app.write_text("from porch import get, server\napp = server(get('/', lambda ctx: 'one'))\n")
    with serving("app:app", "--reload") as url:
        assert httpx.get(url + "/").text == "one"
        time.sleep(0.5)  # a change within the watcher's first tick could go unseen
        app.write_text("from porch import get, server\napp = server(get('/', lambda ctx: 'two'))\n")
        answer = ""
        for _ in range(300):  # reload takes a second or two; give it up to a minute
            with contextlib.suppress(httpx.TransportError):  # between old and new worker
                answer = httpx.get(url + "/", timeout=5).text
            if answer == "two":
                break
            time.sleep(0.2)
        assert answer == "two"


def test_several_workers_share_sessions_through_sqlite(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(SLOW_COUNTER)
    with (
        serving("app:app", "--workers", "2", env={"SECRET": "s" * 40}) as url,
        httpx.Client(base_url=url) as browser,
    ):
        views = [browser.get("/").json()["views"] for _ in range(6)]
    assert views == [1, 2, 3, 4, 5, 6]


# --- a graceful stop: in-flight requests finish, their writes land, the store closes ---

SLOW_COUNTER = """\
import asyncio
from porch import get, server

@get('/')
async def counter(ctx):
    if 'wait' in ctx.query:
        with open('arrived', 'a') as arrived:  # the test signals once all are in a handler
            arrived.write('.')
        await asyncio.sleep(float(ctx.query['wait']))
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}

app = server(counter, session={'store': 'sqlite:///sessions.db'})
"""


def start(folder: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "porch", "serve", "app:app", "--port", str(port)],
            cwd=folder, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "SECRET": "s" * 40, "LOG": "warning"},
        )  # fmt: skip


async def test_sigterm_lets_requests_in_flight_finish_and_loses_no_acknowledged_write(
    isolated_environment: Path,
) -> None:
    (isolated_environment / "app.py").write_text(SLOW_COUNTER)
    port, log = free_port(), isolated_environment / "serve.log"
    url = f"http://127.0.0.1:{port}"
    process = start(isolated_environment, port, log)
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for _ in range(20)]
    try:
        wait_until_answering(url, process, log)
        for client in clients:  # each visitor has a session: views 1
            assert (await client.get("/")).json() == {"views": 1}
        # Under load: every visitor's second request is in the handler when SIGTERM comes.
        in_flight = [asyncio.create_task(client.get("/?wait=1")) for client in clients]
        arrived = isolated_environment / "arrived"
        while not arrived.exists() or len(arrived.read_text()) < len(clients):
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*in_flight, return_exceptions=True)
        assert [getattr(answer, "status_code", answer) for answer in answers] == [200] * 20
        assert all(answer.json() == {"views": 2} for answer in answers)  # type: ignore[union-attr]
        # 0 from Granian; uvicorn ends by re-raising the SIGTERM it handled gracefully
        assert process.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()
        # The same store, a new server: every acknowledged write is there.
        process = start(isolated_environment, port, log)
        wait_until_answering(url, process, log)
        for client in clients:
            assert (await client.get("/")).json() == {"views": 3}
    finally:
        for client in clients:
            await client.aclose()
        process.terminate()
        process.wait(timeout=30)


# --- where porch leans on a server's internals, a release that moves them is no outage ---


def test_without_uvicorns_httptools_protocol_porch_leaves_uvicorn_its_choice_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from porch.serve.uvicorn import PROTOCOL, http_protocol

    assert http_protocol() == PROTOCOL
    # As without httptools (or a release that moved it): uvicorn's "auto" falls back to h11.
    monkeypatch.setitem(sys.modules, "uvicorn.protocols.http.httptools_impl", None)
    assert http_protocol() == "auto"
    assert "header_timeout option is not enforced on uvicorn" in caplog.text


def test_without_granians_listener_spec_run_still_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    import granian._granian
    from granian.server.embed import Server

    from porch.testing.servers import embedded_server_class

    assert embedded_server_class() is not Server  # porch's: it closes its listener
    monkeypatch.delattr(granian._granian, "ListenerSpec")  # as if a release moved it
    assert embedded_server_class() is Server  # Granian's own, as it is
    with run(home, server="granian") as api:
        assert api.get("/").text == "home"
