"""Prometheus metrics over the real server: by route pattern, store calls, several workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from porch import get, post, run, server
from porch.context import Context
from porch.errors import ConfigError
from porch.metrics import MeasuredStore, Metrics
from porch.session.stores import MemoryStore
from porch.testing import OptionalStoreSuite, StoreSuite

if TYPE_CHECKING:
    from tests.redis_server import start_redis
    from tests.serve_process import serving
else:
    from redis_server import start_redis
    from serve_process import serving

REQUESTS = "porch_requests_total"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@get("/users/:id")
def user(ctx: Context) -> dict[str, str]:
    ctx.session["seen"] = ctx.params["id"]
    return {"id": ctx.params["id"]}


@post("/logout")
def logout(ctx: Context) -> str:
    ctx.session.destroy()
    return "bye"


@get("/plain")
def plain(ctx: Context) -> str:
    return "plain"


def samples(text: str) -> Samples:
    """Every sample of a scrape, keyed by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def routes_seen(scraped: Samples) -> set[str]:
    return {dict(labels)["route"] for name, labels in scraped if name == "porch_requests_total"}


async def test_metrics_are_off_by_default() -> None:
    async with run(plain) as api:
        assert (await api.get("/metrics")).status == 404


def test_an_app_without_metrics_never_imports_prometheus_client(tmp_path: Path) -> None:
    code = (
        "import sys, porch; porch.server(porch.get('/', lambda ctx: 'x'), env='test'); "
        "print('prometheus_client' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert result.stdout.strip() == "False"


async def test_requests_are_counted_by_route_pattern_method_and_status() -> None:
    async with run(user, plain, metrics="/metrics", security={"csrf": False}) as api:
        for user_id in ("1", "2", "3"):
            assert (await api.get(f"/users/{user_id}")).status == 200
        assert (await api.get("/nowhere/at/all")).status == 404
        assert (await api.get("/plain")).status == 200
        assert (await api.request("PURGE", "/plain")).status == 404  # GET's route, not PURGE's
        scrape = await api.get("/metrics")
    assert scrape.status == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=")
    scraped = samples(scrape.raw.text)
    assert value(scraped, REQUESTS, method="GET", route="/users/:id", status="200") == 3
    assert value(scraped, "porch_requests_total", method="GET", route="none", status="404") == 1
    assert value(scraped, "porch_requests_total", method="GET", route="/plain", status="200") == 1
    assert value(scraped, "porch_requests_total", method="OTHER", route="none", status="404") == 1
    assert routes_seen(scraped) == {"/users/:id", "none", "/plain"}  # never a raw path
    count = value(scraped, "porch_request_duration_seconds_count", method="GET", route="/users/:id")
    assert count == 3


async def test_session_store_calls_and_sessions_are_counted() -> None:
    async with run(user, logout, metrics=True, security={"csrf": False}) as api:
        await api.get("/users/1")  # creates the session: one save
        await api.get("/users/1")  # loads it; same value, no save
        await api.get("/users/2")  # loads and saves
        await api.post("/logout")  # loads and destroys
        scraped = samples((await api.get("/metrics")).raw.text)
    assert value(scraped, "porch_session_store_duration_seconds_count", operation="load") == 3
    assert value(scraped, "porch_session_store_duration_seconds_count", operation="save") == 3
    assert value(scraped, "porch_session_store_duration_seconds_count", operation="destroy") == 1
    assert value(scraped, "porch_sessions_created_total") == 1
    assert value(scraped, "porch_sessions_destroyed_total") == 1


class TestMeasuredStore(StoreSuite, OptionalStoreSuite):
    """The wrapper keeps every guarantee of the Store contract, moved sessions included."""

    @pytest.fixture
    def store(self) -> MeasuredStore:
        return MeasuredStore(MemoryStore(), Metrics("/metrics"))


async def test_an_unreachable_store_is_counted_as_503s_and_errors() -> None:
    own = start_redis()
    try:
        async with run(user, metrics="/metrics", session={"store": own.url, "timeout": 1}) as api:
            assert (await api.get("/users/1")).status == 200
            own.stop()
            assert (await api.get("/users/1")).status == 503
            scraped = samples((await api.get("/metrics")).raw.text)
    finally:
        own.remove()
    assert value(scraped, "porch_store_unavailable_responses_total") == 1
    assert value(scraped, "porch_session_store_errors_total", operation="load") == 1
    assert value(scraped, REQUESTS, method="GET", route="/users/:id", status="503") == 1


def test_metrics_without_prometheus_client_stop_start_up_naming_the_install(
    tmp_path: Path,
) -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"  # as if it were not installed
        "import porch\n"
        "try:\n"
        "    porch.server(env='test', metrics='/metrics')\n"
        "except porch.ConfigError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert "option 'metrics' is '/metrics'" in result.stdout
    assert "pip install 'porch[metrics]'" in result.stdout


def test_a_missing_multiprocess_folder_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-porch-metrics")
    with pytest.raises(ConfigError, match=r"^PROMETHEUS_MULTIPROC_DIR is '/nonexistent-porch-"):
        server(metrics=True)


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_metrics_on_a_health_path_stops_start_up(path: str) -> None:
    with pytest.raises(ConfigError, match=r"^option 'metrics' is .* which the 'health' option"):
        server(metrics=path, health="/health")


@pytest.mark.parametrize("value", ["metrics", "/", 7])
def test_a_bad_metrics_path_stops_start_up(value: Any) -> None:  # Any: wrong types too
    with pytest.raises(ConfigError, match=r"^option 'metrics' is "):
        server(metrics=value)


WORKER_APP = """
import os
from porch import get, server

@get('/users/:id')
def user(ctx):
    ctx.session['seen'] = ctx.params['id']
    return {'worker': os.getpid()}

app = server(user)
"""


def test_two_workers_report_their_sum(isolated_environment: Path) -> None:
    (isolated_environment / "app.py").write_text(WORKER_APP)
    folder = isolated_environment / "metrics"
    folder.mkdir()
    env = {
        "METRICS": "/metrics",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "SESSION_STORE": f"sqlite:///{isolated_environment / 'sessions.db'}",
        "SECRET": "metrics-test-secret-" + "x" * 30,
    }
    with serving("app:app", "--workers", "2", env=env) as url:
        workers: set[int] = set()
        answered = 0
        limits = httpx.Limits(max_keepalive_connections=0)  # a fresh connection each time
        with httpx.Client(base_url=url, limits=limits) as client:
            while answered < 20 or (len(workers) < 2 and answered < 400):
                workers.add(client.get(f"/users/{answered}").json()["worker"])
                answered += 1
            scrapes = [samples(client.get("/metrics").text) for _ in range(6)]
    assert len(workers) == 2, "both workers should have answered"
    for scraped in scrapes:  # whichever worker answers the scrape reports both
        requests = value(
            scraped, "porch_requests_total", method="GET", route="/users/:id", status="200"
        )
        assert requests == answered
        assert value(scraped, "porch_sessions_created_total") == 1  # one browser, one session
