"""Route path patterns: porch's syntax works, and every malformed pattern is refused when made."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from porch import ConfigError, get, post, run, sub
from porch.context import Context

SYNTAX = "porch's patterns: '/users/:id' or '/users/{id}'"


def echo(ctx: Context) -> dict[str, str]:
    return dict(ctx.params)


async def test_porch_patterns_match_as_documented() -> None:
    routes = [
        get("/users/:id", echo),
        get("/books/{isbn}", echo),
        get("/files/*", echo),
        get("/dl/:file.:ext", echo),
        get("/span/:start-:end", echo),
        get("/c++", lambda ctx: "plus"),
        get("/café", lambda ctx: "coffee"),
    ]
    async with run(routes) as api:
        assert (await api.get("/users/42")).body == {"id": "42"}
        assert (await api.get("/books/978-3")).body == {"isbn": "978-3"}
        assert (await api.get("/files/a/b.txt")).body == {"*": "a/b.txt"}
        assert (await api.get("/dl/report.pdf")).body == {"file": "report", "ext": "pdf"}
        assert (await api.get("/span/1-9")).body == {"start": "1", "end": "9"}
        assert (await api.get("/c++")).body == "plus"
        assert (await api.get("/caf%C3%A9")).body == "coffee"


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        # Flask's syntax, with and without a converter: the fix is shown in both spellings
        ("/users/<id>", "porch writes '/users/:id' (or '/users/{id}')"),
        ("/users/<int:id>/posts/<slug>", "'/users/:id/posts/:slug'"),
        ("/users/id>", "'<' and '>' are not porch syntax"),
        # braces: unbalanced, empty, a Starlette converter, not a name
        ("/users/{id", "an unbalanced '{'; did you mean '/users/:id' (or '/users/{id}')?"),
        ("/users/{id/posts", "did you mean '/users/:id/posts' (or '/users/{id}/posts')?"),
        ("/users/id}", "an unbalanced '}'"),
        ("/users/{}", "'{}' has no parameter name"),
        ("/users/{ }", "whitespace or control character"),
        ("/users/{id:int}", "write '{id}' or ':id' and convert in the handler"),
        ("/users/{1d}", "'1d' is not a parameter name"),
        # ':' with no name, or not an identifier
        ("/users/:", "':' has no parameter name"),
        ("/users/:/posts", "':' has no parameter name"),
        ("/time/12:30", "'30' is not a parameter name"),
        ("/users/:-x", "':' has no parameter name"),
        # the same name twice would keep only one value
        ("/users/:id/:id", "the parameter 'id' appears twice"),
        ("/users/:id/{id}", "the parameter 'id' appears twice"),
        # two parameters with nothing between them
        ("/range/:from:to", "two parameters touch at ':to'"),
        ("/range/{from}{to}", "two parameters touch"),
        # not a path
        ("users/:id", "a route path starts with '/'"),
        ("", "a route path starts with '/'"),
        # regex and other routers' syntax
        ("/users/:id?", "'?': a query string is not part of the path"),
        ("/search?q=1", "read it from ctx.query"),
        ("/users/:id(\\d+)", "'(': porch has no regex groups"),
        ("/users/[0-9]", "'[': porch has no character classes"),
        ("/users/\\d", "nothing needs escaping"),
        ("^/users", "a route path starts with '/'"),
        ("/users$", "always matches the whole path"),
        ("/a|/b", "define one route per path"),
        ("/files/:path+", "'+' after a parameter"),
        ("/page#top", "#fragment never reaches the server"),
        # whitespace, control characters, percent-encoding, empty segments
        ("/users ", "whitespace or control character ' '"),
        ("/users/\n", "'\\n'"),
        ("/a\tb", "'\\t'"),
        ("/nul\x00", "'\\x00'"),
        ("/caf%C3%A9", "'%C3' is percent-encoded"),
        ("/users//:id", "an empty segment"),
        # '*' is the last segment, once
        ("/files/*.txt", "'*' stands for the rest of the path"),
        ("/*/edit", "the last segment only"),
        ("/a/*/*", "the last segment only"),
        ("/users/:id*", "the last segment only"),
    ],
)
def test_a_malformed_pattern_is_refused_naming_it_and_showing_the_syntax(
    pattern: str, says: str
) -> None:
    makers: list[Callable[[], object]] = [
        lambda: get(pattern, echo),
        lambda: get(pattern)(echo),
        lambda: post(pattern),
    ]
    for make in makers:
        with pytest.raises(ConfigError) as refused:
            make()
        message = str(refused.value)
        assert f"route {pattern!r} is not a porch path pattern" in message
        assert says in message
        assert SYNTAX in message


def test_a_route_without_its_path_is_refused_with_the_fix() -> None:
    """``@get`` without parentheses passes the function as the path."""
    with pytest.raises(TypeError, match=r"@get\('/users/:id'\) above the function"):
        get(echo)  # type: ignore[call-overload]


async def test_a_refused_pattern_leaves_the_other_routes_untouched() -> None:
    """The check is per route, when it is made: sub() and server() see only good routes."""
    with pytest.raises(ConfigError):
        sub("api", get("/users/<id>", echo))
    async with run(sub("api", get("/users/:id", echo))) as api:
        response = await api.get("/users/7", headers={"host": "api.example.com"})
    assert response.body == {"id": "7"}
