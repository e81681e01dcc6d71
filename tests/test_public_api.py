"""The public names of DESIGN.md §1 import from porch, and __all__ says exactly what is public."""

from __future__ import annotations

import porch
import porch.reply
import porch.testing

# DESIGN.md §1.2: the reply helpers, importable from porch and from porch.reply.
REPLIES = (
    "status",
    "send",
    "json",
    "redirect",
    "file",
    "download",
    "cookie",
    "header",
    "content_type",
    "render",
)
# DESIGN.md §1.1, §1.2, §1.5, §1.8 and the error tree of STYLE.md §7.
CONTRACT = {
    "server",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "error",
    "run",
    *REPLIES,
    "socket",
    "ConfigError",
    "PorchError",
    "SessionError",
    "StoreError",
}


def test_every_contract_name_imports_from_porch() -> None:
    missing = sorted(name for name in CONTRACT if not hasattr(porch, name))
    assert missing == []
    assert set(porch.__all__) >= CONTRACT


def test_all_is_sorted_and_lists_exactly_the_public_names() -> None:
    assert porch.__all__ == sorted(porch.__all__)
    public = {
        name
        for name in dir(porch)  # dir(), not vars(): run is imported on first use (PEP 562)
        if not name.startswith("_") and not isinstance(getattr(porch, name), type(porch))
    }
    assert public == set(porch.__all__)


def test_the_testing_module_lists_its_lazy_suites_too() -> None:
    assert {"run", "StoreSuite", "OptionalStoreSuite"} <= set(dir(porch.testing))
    assert set(porch.testing.__all__) <= set(dir(porch.testing))


def test_replies_are_also_in_porch_reply() -> None:
    for name in REPLIES:
        assert getattr(porch.reply, name) is getattr(porch, name)


def test_testing_exports_run_and_the_store_suite() -> None:
    assert porch.testing.run is porch.run
    assert isinstance(porch.testing.StoreSuite, type)
