"""The one list of store URL schemes, and the one check of a URL's scheme."""

from __future__ import annotations

import pytest

from porch.errors import ConfigError
from porch.session.stores import (
    BACKENDS,
    REDIS_SCHEMES,
    MemoryStore,
    is_redis_store,
    scheme_of,
    store_from_url,
)
from porch.session.stores.redis import RedisStore
from porch.session.stores.urls import check_store_url


def test_the_redis_schemes_are_the_ones_the_redis_store_is_built_for() -> None:
    redis = {scheme for scheme, (module, _) in BACKENDS.items() if module.endswith(".redis")}
    assert redis == REDIS_SCHEMES


def test_scheme_of_is_case_blind_and_empty_without_one() -> None:
    assert scheme_of("Redis+Sentinel://h:1/s") == "redis+sentinel"
    assert scheme_of("sessions.db") == ""


@pytest.mark.parametrize("url", ["redsi://:hunter2@h:6379/0", "hunter2", "mysql://u:hunter2@h/db"])
def test_an_unknown_scheme_is_refused_naming_the_accepted_ones_without_the_password(
    url: str,
) -> None:
    for refuse in (lambda: store_from_url(url), lambda: check_store_url(url, "REDIS_URL")):
        with pytest.raises(ConfigError) as caught:
            refuse()
        message = str(caught.value)
        assert "hunter2" not in message or url == "hunter2"
        assert all(f"{scheme}://" in message for scheme in BACKENDS)


def test_is_redis_store_asks_the_type_once_for_everyone() -> None:
    assert is_redis_store(RedisStore("redis://127.0.0.1:1/0"))
    assert not is_redis_store(MemoryStore())
    assert not is_redis_store("redis://127.0.0.1:1/0")
