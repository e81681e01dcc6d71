"""The walk over a handler's syntax tree that applies the rule of porch/inline.py.

``Check`` reads the statements in source order (a handler on the loop has no
loop, so source order is the order of its steps), infers for each expression
what kind of value it may hold (porch/inline_rule.py) and raises ``Threaded``
with a reason at the first step outside the rule.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from typing import Any

from .inline_rule import (
    CTX_METHODS,
    DATA,
    EXCEPTION,
    LITERAL_ARGUMENTS,
    LITERAL_FROM,
    NUM,
    READS,
    REPLY,
    SESSION,
    SESSION_ATTRIBUTES,
    STORABLE,
    Kinds,
    callables,
    method_allowed,
)


class Threaded(Exception):
    """Raised inside the check with the reason a handler runs in a worker thread."""


def is_int_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


class Check:
    """Walks a handler's tree in source order; raises Threaded at the first step not allowed."""

    def __init__(
        self,
        ctx: str,
        local_names: set[str],
        namespace: Mapping[str, Any],
        builtin_names: Mapping[str, Any],
    ) -> None:
        self.ctx = ctx
        # The builtins the function itself sees (its globals' __builtins__), which
        # code run with exec() may replace; a name is looked up as Python would.
        self.builtin_names = builtin_names
        self.callables = callables()  # built per check: a few dozen ids, once per handler
        self.local_names = local_names
        self.namespace = namespace
        self.locals: dict[str, Kinds] = {}

    # --- statements ---

    def statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr):
            self.expr(node.value)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                self.expr(node.value)
        elif isinstance(node, ast.Assign):
            kinds = self.expr(node.value)
            for target in node.targets:
                self.assign(target, kinds)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value))
        elif isinstance(node, ast.AugAssign):
            load = self.load_of(node.target)
            self.assign(node.target, self.binary(node.op, load, node.value))
        elif isinstance(node, ast.If):
            self.expr(node.test)
            self.statements(node.body)
            self.statements(node.orelse)
        elif isinstance(node, ast.Try):
            self.statements(node.body)
            for handler in node.handlers:
                if handler.type is not None:
                    self.exception_type(handler.type)
                if handler.name is not None:
                    self.bind(handler.name, EXCEPTION)
                self.statements(handler.body)
            self.statements(node.orelse)
            self.statements(node.finalbody)
        elif isinstance(node, ast.Raise):
            for part in (node.exc, node.cause):
                if part is not None:
                    self.expr(part)
        elif isinstance(node, ast.Assert):
            self.expr(node.test)
            if node.msg is not None:
                self.expr(node.msg)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.delete(target)
        elif not isinstance(node, ast.Pass):
            raise Threaded(f"it uses {describe(node)}")

    def assign(self, target: ast.expr, kinds: Kinds) -> None:
        if isinstance(target, ast.Name):
            if target.id == self.ctx:
                raise Threaded("it assigns to ctx")
            self.bind(target.id, kinds)
        elif isinstance(target, ast.Subscript):
            self.storable(kinds, "stores")
            self.subscript_of(target)
        elif isinstance(target, ast.Attribute):
            if isinstance(target.value, ast.Name) and target.value.id == self.ctx:
                raise Threaded(f"it sets ctx.{target.attr}")
            if self.expr(target.value) != SESSION or target.attr != "user":
                raise Threaded(f"it sets .{target.attr}, beyond ctx.session.user")
            self.storable(kinds, "stores")
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                if isinstance(element, ast.Starred):
                    raise Threaded("it unpacks with *")
                self.assign(element, DATA)
        else:
            raise Threaded(f"it assigns to {describe(target)}")

    def bind(self, name: str, kinds: Kinds) -> None:
        self.locals[name] = self.locals.get(name, frozenset()) | kinds

    def delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name) and target.id != self.ctx:
            return
        if isinstance(target, ast.Subscript):
            self.subscript_of(target)
            return
        raise Threaded(f"it deletes {describe(target)}")

    def load_of(self, target: ast.expr) -> Kinds:
        """What ``target`` holds before ``target += ...`` (the same checks as reading it)."""
        if isinstance(target, ast.Name):
            return self.name(target.id)
        if isinstance(target, ast.Subscript):
            return self.subscript_of(target)
        if isinstance(target, ast.Attribute):
            return self.attribute(target)
        raise Threaded(f"it updates {describe(target)}")

    def exception_type(self, node: ast.expr) -> None:
        names = node.elts if isinstance(node, ast.Tuple) else [node]
        for name in names:
            if not isinstance(name, ast.Name) or self.global_kinds(name.id)[0] != "exception":
                raise Threaded(f"it catches {describe(name)}, not a built-in or porch exception")

    # --- expressions ---

    def expr(self, node: ast.expr) -> Kinds:
        if isinstance(node, ast.Constant):
            return NUM if isinstance(node.value, int | float) else DATA
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return self.subscript_of(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.expr(node.left), node.right, node.left)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            self.storable(operand, "uses an operator on")
            return NUM
        if isinstance(node, ast.BoolOp):
            return frozenset().union(*(self.expr(value) for value in node.values))
        if isinstance(node, ast.Compare):
            for part in (node.left, *node.comparators):
                self.storable(self.expr(part), "compares")
            return NUM
        if isinstance(node, ast.IfExp):
            self.expr(node.test)
            return self.expr(node.body) | self.expr(node.orelse)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    self.storable(self.expr(element.value), "unpacks")
                else:
                    self.storable(self.expr(element), "stores")
            return DATA
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:  # None: a {**mapping} entry, whose value follows
                    self.storable(self.expr(key), "stores")
            for value in node.values:
                self.storable(self.expr(value), "stores")
            return DATA
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    self.storable(self.expr(part.value), "formats")
                    spec = part.format_spec
                    if spec is not None and not all(
                        isinstance(piece, ast.Constant)
                        for piece in ast.walk(spec)
                        if not isinstance(piece, ast.JoinedStr)
                    ):
                        raise Threaded("it formats with a width or precision from a value")
            return DATA
        if isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper, node.step):
                if bound is not None:
                    self.storable(self.expr(bound), "slices with")
            return DATA
        raise Threaded(f"it uses {describe(node)}")

    def name(self, name: str) -> Kinds:
        if name == self.ctx:
            raise Threaded("it hands ctx itself on")
        if name in self.local_names:
            if name not in self.locals:
                raise Threaded(f"it reads {name!r} before assigning it")
            return self.locals[name]
        raise Threaded(f"it reads {name!r}, which porch cannot vouch for, other than to call it")

    def global_kinds(self, name: str) -> tuple[str, Kinds]:
        if name in self.local_names or name == self.ctx:
            raise Threaded(f"it calls {name!r}, a local value")
        value = self.namespace.get(name, self.builtin_names.get(name))
        found = self.callables.get(id(value))
        if found is None:
            raise Threaded(f"it calls or reads {name!r}, which porch cannot vouch for")
        return found

    def attribute(self, node: ast.Attribute) -> Kinds:
        if isinstance(node.value, ast.Name) and node.value.id == self.ctx:
            if node.attr not in READS:
                raise Threaded(f"it uses ctx.{node.attr}, beyond reading the request and session")
            return READS[node.attr]
        owner = self.expr(node.value)
        if owner == SESSION and node.attr in SESSION_ATTRIBUTES:
            return DATA
        raise Threaded(f"it reads .{node.attr} of a value")

    def subscript_of(self, node: ast.Subscript) -> Kinds:
        container = self.expr(node.value)
        self.storable(container, "indexes")
        self.storable(self.expr(node.slice), "indexes with")
        return DATA

    def call(self, node: ast.Call) -> Kinds:
        function = node.func
        if isinstance(function, ast.Name):
            what, kinds = self.global_kinds(function.id)
            self.arguments(node, literal_from=LITERAL_FROM.get(what))
            return kinds
        if isinstance(function, ast.Attribute):
            method = function.attr
            if isinstance(function.value, ast.Name) and function.value.id == self.ctx:
                if method not in CTX_METHODS:
                    raise Threaded(f"it uses ctx.{method}, beyond reading the request and session")
                self.arguments(node)
                return CTX_METHODS[method]
            owner = self.expr(function.value)
            if not method_allowed(owner, method):
                raise Threaded(f"it calls .{method}(), which porch does not list as bounded")
            self.arguments(node, literal_from=0 if method in LITERAL_ARGUMENTS else None)
            # A reply's methods give the reply; any other allowed method gives data.
            return (REPLY if "reply" in owner else frozenset()) | (
                DATA if owner - REPLY else frozenset()
            )
        raise Threaded(f"it calls {describe(function)}")

    def arguments(self, node: ast.Call, *, literal_from: int | None = None) -> None:
        """Check a call's arguments; from position ``literal_from`` on they must be literals."""
        is_isinstance = isinstance(node.func, ast.Name) and node.func.id == "isinstance"
        for position, argument in enumerate(node.args):
            if isinstance(argument, ast.Starred):
                raise Threaded("it calls with *arguments")
            if is_isinstance and position == 1:
                self.exception_or_type(argument)
                continue
            self.literal(node, argument, literal_from is not None and position >= literal_from)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise Threaded("it calls with **arguments")
            self.literal(node, keyword.value, literal_from is not None)

    def literal(self, node: ast.Call, argument: ast.expr, required: bool) -> None:
        if required and not isinstance(argument, ast.Constant):
            raise Threaded(f"it calls {describe(node.func)} with an argument that is not a literal")
        self.storable(self.expr(argument), "passes")

    def exception_or_type(self, node: ast.expr) -> None:
        """isinstance's second argument: built-in classes, in a tuple or joined by ``|``."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            self.exception_or_type(node.left)
            self.exception_or_type(node.right)
            return
        names = node.elts if isinstance(node, ast.Tuple) else [node]
        for name in names:
            value = self.builtin_names.get(name.id) if isinstance(name, ast.Name) else None
            if (
                not isinstance(name, ast.Name)
                or name.id in self.local_names
                or name.id in self.namespace
                or not isinstance(value, type)
                or getattr(builtins, name.id, None) is not value
            ):
                raise Threaded(f"it checks isinstance against {describe(name)}")

    def binary(
        self, op: ast.operator, left: Kinds, right_node: ast.expr, left_node: ast.expr | None = None
    ) -> Kinds:
        right = self.expr(right_node)
        self.storable(left, "uses an operator on")
        self.storable(right, "uses an operator on")
        numbers = left == NUM and right == NUM
        literal_left = left_node is not None and is_int_literal(left_node)
        if isinstance(op, ast.Mult):
            if not (numbers or is_int_literal(right_node) or literal_left):
                raise Threaded(
                    "it multiplies by a value that may be a sequence (cost set by the request)"
                )
            return NUM if numbers else DATA
        if isinstance(op, ast.Pow | ast.LShift):
            if not is_int_literal(right_node):
                raise Threaded("it raises to or shifts by a power that is not a literal")
            return NUM
        if isinstance(op, ast.Mod):
            formats = (
                left_node is not None
                and isinstance(left_node, ast.Constant)
                and isinstance(left_node.value, str | bytes)
                and (
                    "*" not in left_node.value
                    if isinstance(left_node.value, str)
                    else b"*" not in left_node.value
                )
            )
            if not (left == NUM or formats):
                raise Threaded("it uses % on a value that may be a format string")
            return NUM if left == NUM else DATA
        if isinstance(op, ast.MatMult):
            raise Threaded("it uses @")
        if isinstance(op, ast.Div | ast.FloorDiv | ast.RShift):
            return NUM
        return NUM if numbers else DATA

    def storable(self, kinds: Kinds, doing: str) -> None:
        if not kinds <= STORABLE:
            what = " or ".join(sorted(kinds - STORABLE))
            raise Threaded(f"it {doing} a {what}")


def describe(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # only a description for a message
        text = ""
    kind = type(node).__name__
    return f"{kind} ({text[:40]})" if text and not isinstance(node, ast.stmt) else kind
