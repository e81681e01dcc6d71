"""The option types of ``server(**options)`` match the schema that reads the options.

``porch.option_types`` is what mypy checks a call against; ``porch.option_schema`` is
what porch reads at start-up. These tests hold the first to the second: the same
names in every section, every default a value the type accepts, and every
literal the type offers a value the converter takes unchanged. A new option
added to one and not the other fails here.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

import pytest

from porch import app
from porch import option_schema as options
from porch.option_types import (
    CookieSettings,
    SecuritySettings,
    ServerOptions,
    SessionSettings,
    StoreObject,
)
from porch.session.stores import MemoryStore, Store
from porch.testing import server as testing_server

# Each TypedDict beside the schema rows it types and the names that are sections, not rows.
SECTIONS: list[tuple[Any, tuple[options.Option, ...], set[str]]] = [
    (ServerOptions, options.TOP_LEVEL, {"session", "security"}),
    (SessionSettings, options.SESSION, {"store", "cookie"}),
    (CookieSettings, options.COOKIE, set()),
    (SecuritySettings, options.SECURITY, set()),
]


def hints(typed: Any) -> dict[str, Any]:
    return typing.get_type_hints(typed)


def accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` is of ``annotation``, for the few kinds of type the options use."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(accepts(arm, value) for arm in get_args(annotation))
    if origin is Literal:
        return any(
            value is arg or (value == arg and type(value) is type(arg))
            for arg in get_args(annotation)
        )
    if annotation is None or annotation is type(None):
        return value is None
    if typing.is_typeddict(annotation):
        return isinstance(value, dict) and all(
            key in hints(annotation) and accepts(hints(annotation)[key], item)
            for key, item in value.items()
        )
    if origin in (list, tuple):
        return isinstance(value, origin) and all(isinstance(item, str) for item in value)
    if origin is os.PathLike:
        return isinstance(value, os.PathLike)
    if annotation is StoreObject:  # a Protocol of async methods: what start-up accepts
        return isinstance(value, Store)
    if annotation in (int, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, annotation)


def literals(annotation: Any) -> Iterable[Any]:
    if get_origin(annotation) is Literal:
        yield from get_args(annotation)
    for arm in get_args(annotation) if get_origin(annotation) is not Literal else ():
        yield from literals(arm)


@pytest.mark.parametrize(("typed", "rows", "sections"), SECTIONS)
def test_each_section_types_exactly_the_options_the_schema_reads(
    typed: Any, rows: tuple[options.Option, ...], sections: set[str]
) -> None:
    assert set(typed.__optional_keys__) == {row.name for row in rows} | sections
    assert typed.__required_keys__ == frozenset()  # every option has a default


def test_the_section_names_are_those_the_loader_accepts() -> None:
    assert set(SessionSettings.__optional_keys__) == options.SESSION_NAMES


@pytest.mark.parametrize(("typed", "rows", "sections"), SECTIONS)
def test_every_default_is_a_value_the_type_accepts(
    typed: Any, rows: tuple[options.Option, ...], sections: set[str]
) -> None:
    refused = [row.name for row in rows if not accepts(hints(typed)[row.name], row.default)]
    assert refused == []


@pytest.mark.parametrize(("typed", "rows", "sections"), SECTIONS)
def test_every_literal_the_type_offers_converts_to_itself(
    typed: Any, rows: tuple[options.Option, ...], sections: set[str]
) -> None:
    """A literal that the converter refused would be a value mypy passes and start-up rejects."""
    for row in rows:
        for value in literals(hints(typed)[row.name]):
            converted = row.convert(value, row.name)
            assert converted == value or (value is False and converted is None), (row.name, value)


def test_a_store_object_and_nested_sections_are_accepted_by_the_types() -> None:
    given = {"store": MemoryStore(), "cookie": {"samesite": "strict"}, "max_size": "64kb"}
    assert accepts(SessionSettings, given)
    assert not accepts(SessionSettings, {"max_ag": 5})
    assert not accepts(ServerOptions, {"env": "prod"})


def test_server_and_run_take_their_keywords_as_server_options() -> None:
    """PEP 692, ``**options: Unpack[ServerOptions]``: mypy checks each keyword and its type."""
    assert app.server.__annotations__["options"] == "Unpack[ServerOptions]"
    assert testing_server.run.__init__.__annotations__["options"] == "Unpack[ServerOptions]"


def test_the_store_protocol_names_exactly_the_required_store_methods() -> None:
    """Every Store fits StoreObject (mypy checks that), and it asks no more than Store requires."""
    assert {name for name in vars(StoreObject) if not name.startswith("_")} == set(
        Store.__abstractmethods__
    )
