"""Route path patterns: ``'/users/:id'``, ``'/books/{isbn}'``, ``'/files/*'``, checked when made.

A pattern is read once, when the route is made (at import, so at start-up),
and a malformed one is refused there with a message that names it and shows
porch's syntax. Without the check, a pattern written in another framework's
syntax (Flask's ``<id>``, Express's ``:id?``) or with a typo (``'{id'``)
would be accepted and answer 404 for ever, with nothing to say why.

porch's syntax, in full:

- ``:name`` or ``{name}``: one path segment (or part of one, ``/:file.:ext``),
  a string in ``ctx.params['name']``; ``name`` is a Python identifier, and
  each name appears once;
- ``*``: the rest of the path (``ctx.params['*']``), only as the last segment
  (``'/files/*'``); ``'*'`` alone matches every path;
- everything else is literal text, matched as written (after percent-decoding
  of the request path), with an optional trailing slash.
"""

from __future__ import annotations

import re

from .errors import ConfigError

SYNTAX = (
    "porch's patterns: '/users/:id' or '/users/{id}' (a parameter: one segment, a string "
    "in ctx.params['id']), '/files/*' (the rest of the path, as the last segment only), "
    "everything else literal."
)
IDENTIFIER = re.compile(r"[^\W\d]\w*")
# One token of a pattern: a ':name', a '{...}', a '*', or a run of literal text.
TOKEN = re.compile(r":(?P<colon>\w*)|\{(?P<brace>[^{}]*)\}|(?P<star>\*)|(?P<text>[^:{}*]+|[{}])")
FLASK = re.compile(r"<(?:\w+:)?(\w+)>")
PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]")
# Characters that mean something in a regex or in another router, and never in porch:
# with each, the reason the route could not match as its author meant.
NOT_PORCH = {
    "?": "a query string is not part of the path; read it from ctx.query "
    "(and porch has no optional parameters: define two routes)",
    "#": "a URL's #fragment never reaches the server",
    "(": "porch has no regex groups; match the segment with a parameter, check it in the handler",
    ")": "porch has no regex groups; match the segment with a parameter, check it in the handler",
    "[": "porch has no character classes; use a parameter and check it in the handler",
    "]": "porch has no character classes; use a parameter and check it in the handler",
    "\\": "porch patterns are not regexes, so nothing needs escaping",
    "^": "porch patterns are not regexes: a pattern always matches the whole path",
    "$": "porch patterns are not regexes: a pattern always matches the whole path",
    "|": "porch has no alternatives in a pattern; define one route per path",
}


def refuse(path: str, problem: str) -> ConfigError:
    return ConfigError(f"route {path!r} is not a porch path pattern: {problem}. {SYNTAX}")


def compile_path(path: str) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """A regex for a path with parameters, or None for a plain path (matched by equality).

    Raises ``ConfigError`` for a malformed pattern (see the module docstring),
    ``TypeError`` for a path that is not a string (``@get`` without its path).
    """
    if not isinstance(path, str):
        raise TypeError(
            f"a route takes its path first, as a string: @get('/users/:id') above the "
            f"function, or get('/users/:id', handler); got {path!r} ({type(path).__name__})."
        )
    if path == "*":
        return None, ()
    check_characters(path)
    names: list[str] = []
    pattern = ""
    previous_was_parameter = False
    for token in TOKEN.finditer(path):
        text = token.group("text")
        if text is not None:
            if text in "{}":
                raise refuse(path, f"an unbalanced {text!r}; {meant(path)}")
            if previous_was_parameter and text.startswith("+"):
                raise refuse(
                    path,
                    "'+' after a parameter: porch has no repeated parameters; '*' as the last "
                    "segment takes the rest of the path",
                )
            pattern += re.escape(text)
            previous_was_parameter = False
            continue
        if previous_was_parameter:
            raise refuse(
                path,
                f"two parameters touch at {token.group()!r}, so porch cannot tell where one "
                "ends; put literal text between them ('/:from-:to')",
            )
        name = parameter_name(path, token)
        if name in names:
            raise refuse(
                path,
                f"the parameter {name!r} appears twice, so one value would be lost; give each "
                "its own name ('/users/:user_id/posts/:post_id')",
            )
        names.append(name)
        pattern += "(.*)" if name == "*" else "([^/]+)"
        previous_was_parameter = True
    if not names:
        return None, ()
    return re.compile(f"^{pattern.rstrip('/')}/?$"), tuple(names)


def check_characters(path: str) -> None:
    """Refuse what no porch pattern holds: each check names the mistake it catches."""
    if not path.startswith("/"):
        raise refuse(path, "a route path starts with '/'")
    flask = FLASK.search(path)
    if flask is not None:
        colons = FLASK.sub(lambda found: f":{found.group(1)}", path)
        braces = FLASK.sub(lambda found: f"{{{found.group(1)}}}", path)
        raise refuse(
            path, f"{flask.group()} is Flask's syntax; porch writes {colons!r} (or {braces!r})"
        )
    if "<" in path or ">" in path:
        raise refuse(path, "'<' and '>' are not porch syntax; a parameter is written :name")
    blank = WHITESPACE.search(path)
    if blank is not None:
        raise refuse(
            path,
            f"it holds the whitespace or control character {blank.group()!r}, almost always "
            "a stray space or line break; remove it",
        )
    encoded = PERCENT.search(path)
    if encoded is not None:
        raise refuse(
            path,
            f"{encoded.group()!r} is percent-encoded, but porch matches the decoded path: "
            "write the character itself",
        )
    for character, why in NOT_PORCH.items():
        if character in path:
            raise refuse(path, f"{character!r}: {why}")
    if "//" in path:
        raise refuse(path, "it has an empty segment ('//')")
    if "*" in path and (path.count("*") > 1 or not path.endswith("/*")):
        raise refuse(path, "'*' stands for the rest of the path, so it is the last segment only")


def meant(path: str) -> str:
    """For a stray brace: the pattern it probably meant, when a name follows a '{'."""
    opened = re.compile(r"\{\s*([^\W\d]\w*)\s*\}?")
    if opened.search(path) is None:
        return "a parameter is written {name} or :name"
    colons = opened.sub(lambda found: f":{found.group(1)}", path).replace("}", "")
    braces = opened.sub(lambda found: f"{{{found.group(1)}}}", path)
    return f"did you mean {colons!r} (or {braces!r})?"


def parameter_name(path: str, token: re.Match[str]) -> str:
    """The name of a ':name', '{name}' or '*' token, refused unless an identifier."""
    if token.group("star") is not None:
        return "*"
    name = token.group("colon")
    if name is None:
        name = token.group("brace").strip()
        if ":" in name:  # Starlette's '{id:int}'
            bare = name.split(":", 1)[0].strip()
            raise refuse(
                path,
                f"{token.group()!r} has a converter; porch parameters are strings: write "
                f"'{{{bare}}}' or ':{bare}' and convert in the handler "
                f"(int(ctx.params[{bare!r}]))",
            )
    if not name:
        raise refuse(path, f"{token.group()!r} has no parameter name; write ':id' or '{{id}}'")
    if not IDENTIFIER.fullmatch(name):
        raise refuse(
            path,
            f"{name!r} is not a parameter name (a Python identifier such as 'id' or "
            "'user_id'); a literal ':' or '{' cannot appear in a pattern",
        )
    return name
