"""Which store a URL names: the schemes porch knows, and where each backend lives.

The one list of store URL schemes: ``store_from_url`` builds from it, the
start-up check (``urls.check_store_url``) refuses what is not in it, and the
Redis schemes are named once here for whatever else speaks to the same server.
Nothing here imports a backend, so ``redis`` stays an optional dependency.
"""

from __future__ import annotations

from types import MappingProxyType

# The URL schemes a RedisStore reads (see docs/stores.md for each form).
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix", "redis+sentinel", "redis+cluster"})

REDIS_FACTORY = ("porch.session.stores.redis", "RedisStore.from_url")

# scheme -> (module, factory name); the factory is called as factory(url, **settings)
BACKENDS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "memory": ("porch.session.stores.memory", "MemoryStore.from_url"),
        "redis": REDIS_FACTORY,
        "rediss": REDIS_FACTORY,
        "unix": REDIS_FACTORY,
        "redis+sentinel": REDIS_FACTORY,
        "redis+cluster": REDIS_FACTORY,
        "sqlite": ("porch.session.stores.sqlite", "SQLiteStore.from_url"),
    }
)


def scheme_of(url: str) -> str:
    """The scheme of a store URL, lower-cased ('' when there is none)."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator else ""


def accepted_schemes() -> str:
    """The schemes porch knows, as a user writes them: 'memory://, redis://, ...'."""
    return ", ".join(f"{name}://" for name in BACKENDS)
