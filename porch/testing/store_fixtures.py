"""What the store conformance suites share: fresh keys, a new session's changes, expiry polling.

Also the values a store must refuse (``CHANGES_TYPE``): each would encode, but
come back as another type.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ..session.stores.base import CREATED, Store

MINUTE = 60
SHORT_TTL = 1  # seconds: the shortest ttl a store receives
EXPIRY_TIMEOUT = 3.0  # seconds allowed for a SHORT_TTL entry to disappear
POLL_INTERVAL = 0.05


def new_key() -> str:
    """A fresh key shaped like the ones porch sends: the SHA-256 hex digest of an id."""
    return secrets.token_hex(32)


def created(at: float = 1_000.0, /, **fields: Any) -> dict[str, Any]:
    """The changes of a brand-new session: only a save carrying CREATED may create an entry."""
    return {CREATED: at, **fields}


async def wait_until_expired(store: Store, key: str) -> None:
    """Poll until ``key`` no longer loads; fail if it outlives its ttl by far."""
    deadline = time.monotonic() + EXPIRY_TIMEOUT
    while await store.load(key) is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"an entry saved with ttl={SHORT_TTL}s still loads after {EXPIRY_TIMEOUT}s")
        await asyncio.sleep(POLL_INTERVAL)


def exact_types(value: Any) -> Any:
    """``value`` with each part's exact type beside it: ``==`` alone equates 1, 1.0 and True."""
    if type(value) is dict:
        return {name: exact_types(item) for name, item in value.items()}
    if type(value) is list:
        return [exact_types(item) for item in value]
    return (type(value).__name__, value)


class _Colour(enum.Enum):
    RED = "red"


class _Text(str):
    pass


# Values orjson would encode, but that would come back as another type (or, for
# the last ones, not at all): a store refuses each before writing anything.
CHANGES_TYPE: dict[str, Callable[[], Any]] = {
    "datetime": lambda: datetime.datetime(2026, 1, 2, 3, 4, 5),
    "date": lambda: datetime.date(2026, 1, 2),
    "uuid": lambda: uuid.UUID(int=7),
    "enum": lambda: _Colour.RED,
    "str subclass": lambda: _Text("text"),
    "tuple": lambda: (1, 2),
    "nested tuple": lambda: {"pair": [(1, 2)]},
    "nan": lambda: float("nan"),
    "infinity": lambda: float("inf"),
    "int over 64 bits": lambda: 2**63,
    "int dict key": lambda: {1: "one"},
    "decimal": lambda: decimal.Decimal("1.5"),
    "set": lambda: {1},
    "bytes": lambda: b"raw",
}
