"""docs/architecture.md names only what exists: every module, path and function it cites.

The page is the next maintainer's map; a renamed module or method must not
leave it pointing at nothing. Each name in backquotes is resolved against the
package as it is: ``porch/app.py`` must be a file, ``session.layer`` (or
``porch.session.layer``) a module, ``App.respond`` or ``session.cookie.Signer``
a name found by importing, the module first, then attributes. In the table of
where each rule lives, every name must resolve; elsewhere on the page, names
that do not start with a porch module or class (option names, headers) are
prose and are left alone. ``ctx.x`` is DESIGN's name for ``Context.x``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import porch
from porch.context import Context

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
CODE = re.compile(r"`([^`]+)`")
NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")


@cache
def modules() -> dict[str, ModuleType]:
    """Every module of porch, by its name without ``porch.`` (``__main__`` is only named:
    importing it runs the command)."""
    found = {"": porch, "__main__": porch}
    for info in pkgutil.walk_packages(porch.__path__, "porch."):
        if info.name == "porch.__main__":
            continue
        found[info.name.removeprefix("porch.")] = importlib.import_module(info.name)
    return found


@cache
def defined_names() -> dict[str, object]:
    """Each class, function and alias of porch by its bare name (from the module that defines
    it when it can tell: an alias such as ``SameSite`` names no module), and ``ctx``."""
    names: dict[str, object] = {"ctx": Context}  # DESIGN's name for the request context
    for defined_here in (True, False):
        for module in modules().values():
            for name, value in vars(module).items():
                here = getattr(value, "__module__", None) == module.__name__
                public = not name.startswith("_") and not isinstance(value, ModuleType)
                if here == defined_here and public:  # a module: by its full name only
                    names.setdefault(name, value)
    return names


def resolve(name: str) -> bool | None:
    """True when ``name`` is a porch module, or a name reached from one or from a porch
    class; False when it starts like one and then misses; None when it is not porch's."""
    parts = name.removeprefix("porch.").split(".")
    for end in range(len(parts), 0, -1):
        module = modules().get(".".join(parts[:end]))
        if module is not None:
            return reaches(module, parts[end:])
    first = defined_names().get(parts[0])
    if first is None:
        return None
    return reaches(first, parts[1:])


def reaches(start: object, attributes: list[str]) -> bool:
    """Attribute by attribute; an attribute a class only declares (``Context.app``, set in
    ``__init__``) counts when it is annotated, and ends the walk."""
    value = start
    for attribute in attributes:
        if hasattr(value, attribute):
            value = getattr(value, attribute)
        elif isinstance(value, type) and any(
            attribute in getattr(base, "__annotations__", {}) for base in value.__mro__
        ):
            return attribute == attributes[-1]
        else:
            return False
    return True


def cited(text: str) -> list[str]:
    """The backquoted spans that look like code names (``sub()`` read as ``sub``)."""
    spans = (span.removesuffix("()") for span in CODE.findall(text))
    return [span for span in spans if NAME.match(span)]


def table_of_rules(text: str) -> str:
    """The right-hand column of the table of where each rule lives."""
    start = text.index("## Where each rule of DESIGN lives")
    rows = [line for line in text[start:].splitlines() if line.startswith("| ")]
    return "\n".join(row.split(" | ", 1)[1] for row in rows[1:])


def test_every_path_on_the_page_is_a_file() -> None:
    paths = re.findall(r"`(porch/[\w/.]+)`", PAGE.read_text(encoding="utf-8"))
    assert paths, "the page names no file: the check would check nothing"
    assert [path for path in paths if not (ROOT / path).is_file()] == []


def test_every_name_in_the_table_of_rules_exists() -> None:
    names = cited(table_of_rules(PAGE.read_text(encoding="utf-8")))
    assert len(names) > 40  # the table was read
    assert [name for name in names if not resolve(name)] == []


def test_every_porch_name_elsewhere_on_the_page_exists() -> None:
    names = cited(PAGE.read_text(encoding="utf-8"))
    assert [name for name in names if resolve(name) is False] == []


def test_the_resolver_tells_a_missing_name_from_prose() -> None:
    assert resolve("session.layer") and resolve("porch.session.layer")
    assert resolve("App.respond") and resolve("session.cookie.Signer")
    assert resolve("App.no_such_method") is False
    assert resolve("session.no_such_module") is False
    assert resolve("ctx.app") and not resolve("ctx.no_such_view")  # DESIGN's ctx: a Context
    assert resolve("request.body") is None  # prose: not a porch module or class
