"""Testing helpers: ``run()`` starts the real server; ``StoreSuite`` checks a session store.

```python
from porch.testing import StoreSuite

class TestMyStore(StoreSuite):
    @pytest.fixture
    async def store(self):
        store = MyStore()
        await store.open()
        yield store
        await store.close()
```
"""

import typing

from .server import AsyncApi, Response, SyncApi, run

if typing.TYPE_CHECKING:
    from .suite import OptionalStoreSuite, StoreSuite

_LAZY = ("OptionalStoreSuite", "StoreSuite")


def __getattr__(name: str) -> typing.Any:
    """The store conformance suites are imported on first use (PEP 562): they need
    pytest, a test-only dependency, which ``run()`` alone does not."""
    if name in _LAZY:
        from . import suite

        return getattr(suite, name)
    raise AttributeError(f"module 'porch.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["AsyncApi", "OptionalStoreSuite", "Response", "StoreSuite", "SyncApi", "run"]
