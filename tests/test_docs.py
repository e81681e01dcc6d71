"""Every ```python example of README.md and docs/*.md runs here, so the docs cannot drift.

Each block runs in a fresh namespace, in the test's own empty working
directory. A block is checked by what it defines:

- ``test_*`` functions it defines are called (``async`` ones awaited), so an
  example that states what the app answers is held to it;
- an ``app`` it defines must be a porch ``App`` and must answer ``GET /``
  through ``run(app)`` without a server error.

Two markers, an HTML comment on the line right above the fence, are the only
opt-outs, so every exception is visible in the page itself:

- ``<!-- continues -->``: the block runs after the blocks above it on the
  same page, in their namespace (a fragment that uses their names);
- ``<!-- not run: <reason> -->``: never run, e.g. it needs a Redis on another
  host; the reason is required.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from porch import App, run

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\b.*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.*?)\s*-->$")
CONTINUES = re.compile(r"^<!--\s*continues\s*-->$")


@dataclass(frozen=True)
class Block:
    """One ```python block: where it is, its code, and its marker."""

    page: Path
    line: int  # of the first code line, 1-based
    code: str
    not_run: str | None
    continues: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if not FENCE.match(lines[index]):
            index += 1
            continue
        above = lines[index - 1].strip() if index > 0 else ""
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        not_run = NOT_RUN.match(above)
        blocks.append(
            Block(
                page=page,
                line=index + 2,
                code="\n".join(lines[index + 1 : end]) + "\n",
                not_run=not_run.group("reason") if not_run else None,
                continues=CONTINUES.match(above) is not None,
            )
        )
        index = end + 1
    return blocks


def runnable_groups() -> list[list[Block]]:
    """Each block to check, preceded by the blocks it continues (all the runnable ones above)."""
    groups: list[list[Block]] = []
    for page in PAGES:
        above: list[Block] = []
        for block in blocks_of(page):
            if block.not_run is not None:
                continue
            groups.append([*above, block] if block.continues else [block])
            above.append(block)
    return groups


def execute(block: Block, namespace: dict[str, Any]) -> None:
    # Pad with blank lines so a traceback names the line in the Markdown page itself.
    source = "\n" * (block.line - 1) + block.code
    exec(compile(source, str(block.page), "exec"), namespace)  # the docs' own code, on purpose


def call_test_function(name: str, function: Any) -> None:
    if inspect.signature(function).parameters:
        pytest.fail(f"{name}() in a docs example takes arguments; examples' tests take none.")
    if inspect.iscoroutinefunction(function):
        asyncio.run(function())
    else:
        function()


def check_app(app: Any, where: str) -> None:
    assert isinstance(app, App), f"{where}: `app` is a {type(app).__name__}, not a porch app"
    with run(app) as api:
        status = api.get("/").status
    assert status < 500, f"{where}: GET / through run(app) answered {status}"


@pytest.mark.parametrize("group", runnable_groups(), ids=lambda group: group[-1].name)
def test_docs_example_runs(group: list[Block]) -> None:
    namespace: dict[str, Any] = {"__name__": "porch_docs_example"}
    *earlier, block = group
    for previous in earlier:
        execute(previous, namespace)
    before = dict(namespace)
    execute(block, namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value) and before.get(name) is not value:
            call_test_function(name, value)
    if "app" in namespace and before.get("app") is not namespace["app"]:
        check_app(namespace["app"], block.name)


def test_every_opt_out_says_why() -> None:
    skipped = [block for page in PAGES for block in blocks_of(page) if block.not_run is not None]
    assert all(block.not_run for block in skipped), [b.name for b in skipped if not b.not_run]


def test_the_pages_have_examples_to_run() -> None:
    """A broken fence pattern would silently check nothing; the pages hold dozens of examples."""
    assert len(runnable_groups()) >= 20
    assert {ROOT / "README.md", ROOT / "docs" / "router.md"} <= {
        g[-1].page for g in runnable_groups()
    }


# What a page's script does with text, and where its scripts come from: the pages users
# copy (the docs, the examples) never insert text as HTML, nor load a script from a CDN.
HTML_INSERTION = re.compile(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write\(")
FOREIGN_SCRIPT = re.compile(r"<script[^>]+src=[\"']?(https?:)?//", re.IGNORECASE)


def pages_users_copy() -> list[Path]:
    examples = ROOT / "examples"
    written = [
        path
        for pattern in ("*.html", "*.js", "*.py", "*.md")
        for path in examples.rglob(pattern)
        if not path.name.startswith("socket.io")  # the vendored client, fetched by setup
    ]
    return [*PAGES, *sorted(written)]


@pytest.mark.parametrize("page", pages_users_copy(), ids=lambda path: str(path.relative_to(ROOT)))
def test_pages_insert_no_text_as_html_and_load_no_script_from_another_site(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not HTML_INSERTION.search(text), f"{page}: show text with textContent, not as HTML"
    assert not FOREIGN_SCRIPT.search(text), f"{page}: serve scripts from the app (public/)"
