"""The porch command: serve, sessions count/purge, secret; run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.serve_process import free_port, serving
else:  # pytest puts tests/ on sys.path
    from serve_process import free_port, serving

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

COUNTER = """
from porch import get, server

@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views']}

app = server(counter)
"""


def porch(*arguments: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "porch", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def count_three_times(url: str) -> list[int]:
    with httpx.Client(base_url=url) as browser:
        return [browser.get("/").json()["views"] for _ in range(3)]


def test_serve_runs_the_counter(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(COUNTER)
    with serving("app:app") as url:
        assert count_three_times(url) == [1, 2, 3]


def test_port_flag_beats_the_PORT_variable(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_environment / "app.py").write_text(COUNTER)
    monkeypatch.setenv("PORT", str(free_port()))
    with serving("app:app") as url:  # serving() passes --port with another free port
        assert httpx.get(url + "/").status_code == 200


def test_memory_store_with_several_workers_refuses_naming_the_fix(
    isolated_environment: Path,
) -> None:
    (isolated_environment / "app.py").write_text(COUNTER)
    result = porch("serve", "app:app", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 2
    assert "the session store MemoryStore(max_entries=10000), which keeps" in result.stderr
    assert "REDIS_URL" in result.stderr and "sqlite:///" in result.stderr


@pytest.mark.parametrize("variable", ["METRICS", "SESSION_ENCRYPT"])
def test_a_wrapped_memory_store_with_several_workers_refuses_too(
    variable: str, isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metrics and encryption wrap the store; the sessions still live in one process."""
    (isolated_environment / "app.py").write_text(COUNTER)
    monkeypatch.setenv(variable, "true")
    result = porch("serve", "app:app", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 2
    assert "MemoryStore(max_entries=10000)" in result.stderr
    assert "which keeps sessions in this one process" in result.stderr


def test_serve_names_a_target_that_is_not_a_porch_app(isolated_environment: Path) -> None:
    (isolated_environment / "other.py").write_text("app = 42\n")
    result = porch("serve", "other:app")
    assert result.returncode == 2
    assert "not a porch app" in result.stderr
    missing = porch("serve", "nowhere:app")
    assert missing.returncode == 2 and "nowhere" in missing.stderr


def test_sessions_count_and_purge_use_the_apps_store(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two visitors of the served app are two sessions in its SQLite store; no SECRET is set,
    and the notice about it stays out of the output: it is about serving, not counting."""
    (isolated_environment / "app.py").write_text(COUNTER)
    monkeypatch.setenv("SESSION_STORE", "sqlite:///sessions.db")
    monkeypatch.setenv("SECRET", "a-secret-both-the-server-and-the-shell-share-0123")
    with serving("app:app") as url:
        assert count_three_times(url) == [1, 2, 3]
        assert count_three_times(url) == [1, 2, 3]
    monkeypatch.delenv("SECRET")
    count = porch("sessions", "count", "app:app")
    assert (count.returncode, count.stdout, count.stderr) == (0, "2\n", "")
    purge = porch("sessions", "purge", "app:app")
    assert (purge.returncode, purge.stdout, purge.stderr) == (0, "0\n", "")


@pytest.mark.parametrize("action", ["count", "purge"])
@pytest.mark.parametrize("encrypt", [False, True])
def test_sessions_on_the_memory_store_says_it_cannot_be_reached_from_outside(
    isolated_environment: Path, action: str, encrypt: bool
) -> None:
    """The memory store lives in the server's process: the shell would count a new, empty one."""
    options = "session={'encrypt': True}" if encrypt else ""
    (isolated_environment / "app.py").write_text(
        COUNTER.replace("server(counter)", f"server(counter, {options})")
    )
    result = porch("sessions", action, "app:app")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("porch: the session store ")
    assert "MemoryStore(max_entries=10000)" in result.stderr
    assert "lives inside the server's process" in result.stderr
    assert f"`porch sessions {action}` cannot reach it from outside" in result.stderr
    assert "SESSION_STORE=sqlite:///sessions.db" in result.stderr
    assert "SECRET" not in result.stderr  # the development-secret notice is not shown


def test_routes_of_an_app_without_routes_says_so(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text("from porch import server\napp = server()\n")
    result = porch("routes", "app:app")
    assert result.returncode == 0
    assert "no routes" in result.stdout


def test_sessions_without_sessions_says_so(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(
        "from porch import server\napp = server(session=False)\n"
    )
    result = porch("sessions", "count", "app:app")
    assert result.returncode == 2
    assert "sessions turned off" in result.stderr


def test_secret_prints_a_new_long_random_secret() -> None:
    first, second = porch("secret").stdout.strip(), porch("secret").stdout.strip()
    assert len(first) >= 43 and first != second


def test_init_scaffolds_an_app_that_counts(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = porch("init", "myapp")
    assert result.returncode == 0, result.stderr
    assert "porch serve app:app" in result.stdout
    folder = isolated_environment / "myapp"
    assert (folder / "public").is_dir() and (folder / "views").is_dir()
    assert ".env" in (folder / ".gitignore").read_text().splitlines()
    monkeypatch.chdir(folder)
    with serving("app:app") as url:
        assert count_three_times(url) == [1, 2, 3]


def test_init_writes_a_fresh_secret_good_enough_for_production(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert porch("init", "one").returncode == 0
    assert porch("init", "two").returncode == 0
    secrets = []
    for name in ("one", "two"):
        env_file = isolated_environment / name / ".env"
        assert env_file.stat().st_mode & 0o077 == 0  # the secret is the owner's alone
        (line,) = [line for line in env_file.read_text().splitlines() if line.startswith("SECRET=")]
        secrets.append(line.removeprefix("SECRET="))
    assert secrets[0] != secrets[1] and all(len(secret) >= 43 for secret in secrets)
    monkeypatch.chdir(isolated_environment / "one")
    monkeypatch.setenv("ENV", "production")  # refuses to start without a strong SECRET
    with serving("app:app") as url:
        assert httpx.get(url + "/").json() == {"views": 1}


def test_init_in_the_current_folder(isolated_environment: Path) -> None:
    assert porch("init").returncode == 0
    assert (isolated_environment / "app.py").read_text().startswith("from porch import")


def test_init_never_overwrites_a_file_and_writes_nothing_then(isolated_environment: Path) -> None:
    (isolated_environment / ".env").write_text("SECRET=mine\n")
    result = porch("init")
    assert result.returncode == 2
    assert "already has .env" in result.stderr and "never overwrites" in result.stderr
    assert (isolated_environment / ".env").read_text() == "SECRET=mine\n"
    assert not (isolated_environment / "app.py").exists()
    assert not (isolated_environment / "public").exists()
