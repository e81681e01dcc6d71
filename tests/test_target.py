"""``module:attribute`` strings: what ``porch serve app:app`` and its workers import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from porch import ConfigError
from porch.target import import_target


@pytest.mark.usefixtures("forget_imports")
def test_a_target_is_imported_from_the_working_directory(isolated_environment: Path) -> None:
    (isolated_environment / "shop_app.py").write_text("app = object()\nother = 'x'\n")
    assert import_target("shop_app:other") == "x"
    assert import_target("shop_app:app") is sys.modules["shop_app"].app  # the module's own


@pytest.mark.usefixtures("forget_imports")
@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("no_colon_here", "no_colon_here"),
        ("missing_module_of_porch_tests:app", "missing_module_of_porch_tests"),
        ("shop_app:nothing", "nothing"),
    ],
)
def test_a_bad_target_is_a_config_error_naming_it(
    isolated_environment: Path, target: str, says: str
) -> None:
    (isolated_environment / "shop_app.py").write_text("app = object()\n")
    with pytest.raises(ConfigError, match=f"cannot load '{target}'") as raised:
        import_target(target)
    assert says in str(raised.value)
