"""The public names of DESIGN.md §1 import from porch, and __all__ says exactly what is public."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import porch
import porch.errors
import porch.reply
import porch.session.stores
import porch.testing
from porch.context import Context

ROOT = Path(__file__).resolve().parent.parent

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
    "Context",
    "SocketContext",
    "ConfigError",
    "PorchError",
    "SessionError",
    "StoreError",
}
# Every exception class porch.errors defines: what a handler or a test may catch by type.
ERRORS = {
    name
    for name, value in vars(porch.errors).items()
    if inspect.isclass(value) and issubclass(value, porch.errors.PorchError)
}
TREE_LINE = re.compile(r"^\s*(?:[│ ]*[├└]── )?(?P<name>[A-Z]\w+)\s{2,}", re.MULTILINE)


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


def test_every_error_and_the_context_import_from_porch() -> None:
    """A handler annotates ``ctx: Context``; a test catches ``porch.BadRequest``."""
    assert porch.Context is Context
    assert {
        name for name in ERRORS if getattr(porch, name, None) is getattr(porch.errors, name)
    } == (ERRORS)


def tree(text: str) -> set[str]:
    """The class names of the error tree: the fenced block that starts at ``PorchError``."""
    block = re.search(r"```\n\s*(PorchError .*?)```", text, re.DOTALL)
    assert block is not None, "no error tree"
    return set(TREE_LINE.findall(block.group(1)))


def test_the_error_tree_in_the_docstring_and_the_docs_lists_every_error() -> None:
    assert tree(porch.errors.__doc__ or "") == ERRORS
    assert tree((ROOT / "docs" / "router.md").read_text(encoding="utf-8")) == ERRORS


STORE_KIT = {"encode_changes", "decode_value", "decode_fields", "user_key", "CREATED", "SEEN"}
STORE_KIT |= {"USER", "SessionInfo", "Store"}
STORES_PAGE = ROOT / "docs" / "stores.md"


def test_the_store_authors_kit_imports_from_porch_session_stores() -> None:
    """docs/stores.md tells a custom store to import these; none is a private path."""
    assert set(porch.session.stores.__all__) >= STORE_KIT
    page = STORES_PAGE.read_text(encoding="utf-8")
    imported = re.findall(
        r"from (porch\.session\.stores[\w.]*) import \(?([^)\n]+(?:\n[^)]+)?)", page
    )
    for module, names in imported:
        if module == "porch.session.stores":
            assert set(re.findall(r"\w+", names)) <= set(porch.session.stores.__all__)
    assert [module for module, _ in imported if module == "porch.session.stores.base"] == []


def tiers_in_docstring() -> dict[str, set[str]]:
    lines = re.findall(
        r"^\s*(Required|Lifespan|Overridable|Optional):(.*?)(?=\n\s*\n|\n\s*[A-Z]\w+:)",
        porch.session.stores.Store.__doc__ or "",
        re.MULTILINE | re.DOTALL,
    )
    # The names come before the first ';' or '(': what follows explains the tier.
    return {tier: set(re.findall(r"``(\w+)``", re.split(r"[;(]", text)[0])) for tier, text in lines}


def tiers_in_docs() -> dict[str, set[str]]:
    tiers: dict[str, set[str]] = {}
    for tier, methods in re.findall(
        r"^\| (\w+) \| (`[^|]+) \|", STORES_PAGE.read_text(encoding="utf-8"), re.MULTILINE
    ):
        if tier in {"Required", "Lifespan", "Overridable", "Optional"}:
            tiers.setdefault(tier, set()).update(re.findall(r"`(\w+)\(", methods))
    return tiers


def test_every_store_method_is_in_one_tier_in_the_docstring_and_the_docs() -> None:
    """Required, Lifespan, Overridable (``regenerate``: a working default), Optional."""
    methods = {
        name
        for name, value in vars(porch.session.stores.Store).items()
        if callable(value) and not name.startswith("_")
    }
    for tiers in (tiers_in_docstring(), tiers_in_docs()):
        assert set(tiers) == {"Required", "Lifespan", "Overridable", "Optional"}
        listed = [method for names in tiers.values() for method in names]
        assert sorted(listed) == sorted(methods)
    assert tiers_in_docstring() == tiers_in_docs()
