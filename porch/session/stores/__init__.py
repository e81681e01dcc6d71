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
from .base import (
    CREATED,
    SEEN,
    USER,
    SessionInfo,
    Store,
    decode_fields,
    decode_value,
    encode_changes,
    user_key,
)
from .memory import MemoryStore

# scheme -> (module, factory name); the factory is called as factory(url, **settings)
BACKENDS: dict[str, tuple[str, str]] = {
    "memory": ("porch.session.stores.memory", "MemoryStore.from_url"),
    "redis": ("porch.session.stores.redis", "RedisStore.from_url"),
    "rediss": ("porch.session.stores.redis", "RedisStore.from_url"),
    "unix": ("porch.session.stores.redis", "RedisStore.from_url"),
    "redis+sentinel": ("porch.session.stores.redis", "RedisStore.from_url"),
    "redis+cluster": ("porch.session.stores.redis", "RedisStore.from_url"),
    "sqlite": ("porch.session.stores.sqlite", "SQLiteStore.from_url"),
}


def scheme_of(url: str) -> str:
    """The scheme of a store URL, lower-cased ('' when there is none)."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator else ""


def innermost(store: Store) -> Store:
    """The store that holds the data, under the wrappers porch may add (encryption, metrics).

    Questions about where sessions live (one process or shared?) are about this one.
    """
    while isinstance(inner := getattr(store, "inner", None), Store):
        store = inner
    return store


def store_from_url(url: str, **settings: Any) -> Store:
    """Build the store a URL names; a URL porch does not know is a ConfigError."""
    scheme = scheme_of(url)
    if scheme not in BACKENDS:
        accepted = ", ".join(f"{name}://" for name in BACKENDS)
        raise ConfigError(
            f"session store URL {url!r} has an unknown scheme; accepted: {accepted} "
            "(e.g. memory://, redis://localhost:6379/0, sqlite:///sessions.db)."
        )
    module_name, factory_path = BACKENDS[scheme]
    try:
        target: Any = import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"session store URL {url!r} needs a package that is not installed ({exc.name}). "
            "For Redis run: pip install 'porch[redis]'."
        ) from exc
    for attribute in factory_path.split("."):
        target = getattr(target, attribute)
    store: Store = target(url, **settings)
    return store


__all__ = [
    "CREATED",
    "SEEN",
    "USER",
    "MemoryStore",
    "SessionInfo",
    "Store",
    "decode_fields",
    "decode_value",
    "encode_changes",
    "innermost",
    "store_from_url",
    "user_key",
]
