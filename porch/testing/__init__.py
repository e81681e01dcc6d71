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

from .server import AsyncApi, Response, SyncApi, run
from .suite import OptionalStoreSuite, StoreSuite

__all__ = ["AsyncApi", "OptionalStoreSuite", "Response", "StoreSuite", "SyncApi", "run"]
