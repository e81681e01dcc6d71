"""The ``views`` folder's Jinja2 templates, loaded on the first ``render()`` reply.

Jinja2 is imported only then, so an app without templates never pays for it.
Autoescaping is on for every template (and for strings), whatever the suffix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment


class Templates:
    """One app's templates: ``render('cats', ...)`` finds ``cats`` or ``cats.html``."""

    def __init__(self, views: str) -> None:
        self.views = views
        self._environment: Environment | None = None

    def render(self, name: str, local: Mapping[str, Any]) -> str:
        """Render a template of the ``views`` folder (Jinja2, autoescaped)."""
        from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

        if self._environment is None:
            self._environment = Environment(
                loader=FileSystemLoader(self.views),
                autoescape=select_autoescape(default=True, default_for_string=True),
            )
        try:
            template = self._environment.get_template(name)
        except TemplateNotFound:
            if Path(name).suffix:
                raise
            template = self._environment.get_template(f"{name}.html")
        return template.render(**local)
