"""Session stores: the contract (``Store``) and the built-in backends.

A custom store subclasses ``Store`` and imports its helpers from here
(``encode_changes``, ``decode_value``, ``decode_fields``, ``user_key`` and the
``$`` field names); docs/stores.md is the contract.

A store URL picks a backend by its scheme; each backend lives in its own module
and is imported only when used, so ``redis`` stays an optional dependency.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ...errors import ConfigError
from .backends import BACKENDS, REDIS_SCHEMES, scheme_of
from .base import (
    ALREADY_MOVED,
    CREATED,
    SEEN,
    USER,
    Regenerated,
    SessionInfo,
    Store,
    decode_fields,
    decode_value,
    encode_changes,
    innermost,
    user_key,
)
from .memory import MemoryStore
from .urls import check_scheme, hide_password


def is_redis_store(store: object) -> bool:
    """Whether ``store`` is a RedisStore, without importing redis when it is not installed
    (then no store can be one): the one optional import of the Redis backend by type."""
    try:
        from .redis import RedisStore
    except ImportError:
        return False
    return isinstance(store, RedisStore)


def store_from_url(url: str, **settings: Any) -> Store:
    """Build the store a URL names; a URL porch does not know is a ConfigError."""
    check_scheme(url, "the session store URL")
    module_name, factory_path = BACKENDS[scheme_of(url)]
    try:
        target: Any = import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"session store URL {hide_password(url)!r} needs a package that is not "
            f"installed ({exc.name}). For Redis run: pip install 'porch[redis]'."
        ) from exc
    for attribute in factory_path.split("."):
        target = getattr(target, attribute)
    store: Store = target(url, **settings)
    return store


__all__ = [
    "ALREADY_MOVED",
    "BACKENDS",
    "CREATED",
    "REDIS_SCHEMES",
    "SEEN",
    "USER",
    "MemoryStore",
    "Regenerated",
    "SessionInfo",
    "Store",
    "decode_fields",
    "decode_value",
    "encode_changes",
    "innermost",
    "is_redis_store",
    "scheme_of",
    "store_from_url",
    "user_key",
]
