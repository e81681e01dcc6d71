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

from typing import TYPE_CHECKING, Any

from .server import AsyncApi, Response, SyncApi, run

if TYPE_CHECKING:
    from .suite import OptionalStoreSuite, StoreSuite


def __getattr__(name: str) -> Any:
    """The store conformance suites are imported on first use (PEP 562): they need
    pytest, a test-only dependency, which ``run()`` alone does not."""
    if name in ("OptionalStoreSuite", "StoreSuite"):
        from . import suite

        return getattr(suite, name)
    raise AttributeError(f"module 'porch.testing' has no attribute {name!r}")


__all__ = ["AsyncApi", "OptionalStoreSuite", "Response", "StoreSuite", "SyncApi", "run"]
