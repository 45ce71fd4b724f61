"""Arithmetic typed by a creator (``(a + b) / 2``, ``max(512, a * 8)``), evaluated
without ``eval``: the text is parsed, checked against a short list of allowed
operations, and turned into a small tree of Python closures, cached per text."""

from __future__ import annotations

import ast
import math
import operator
from functools import lru_cache
from typing import Callable, Mapping

MAX_LENGTH = 2000
#: Results past this many bits of integer are refused: ``9 ** 9 ** 9`` must not hang.
MAX_INTEGER_BITS = 4096

Number = int | float
Evaluator = Callable[[Mapping[str, Number]], Number]


class ExpressionError(ValueError):
    """The expression cannot be parsed or evaluated; the message says why, in words."""


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if max(base.bit_length(), 1) * exponent > MAX_INTEGER_BITS:
            raise ExpressionError("the result is too large")
    try:
        result = base**exponent
    except OverflowError:
        raise ExpressionError("the result is too large") from None
    if isinstance(result, complex):
        raise ExpressionError("a negative number cannot be raised to a fractional power")
    return result


def _checked(function: Callable[..., Number]) -> Callable[..., Number]:
    def call(*arguments: Number) -> Number:
        result = function(*arguments)
        if isinstance(result, int) and result.bit_length() > MAX_INTEGER_BITS:
            raise ExpressionError("the result is too large")
        return result

    return call


BINARY: dict[type, Callable[[Number, Number], Number]] = {
    ast.Add: _checked(operator.add),
    ast.Sub: _checked(operator.sub),
    ast.Mult: _checked(operator.mul),
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
UNARY: dict[type, Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs, "min": min, "max": max, "round": round,
    "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
    "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "log": math.log, "exp": math.exp,
    "clamp": lambda value, low, high: max(low, min(high, value)),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


@lru_cache(maxsize=512)
def compile_expression(text: str, variables: tuple[str, ...]) -> Evaluator:
    """Parse ``text`` once into an evaluator over the named ``variables``."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"cannot read the expression: {error.msg} at column {error.offset}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("cannot read the expression") from None
    try:
        return _build(tree.body, frozenset(variables))
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply") from None


def evaluate(text: str, values: Mapping[str, Number]) -> Number:
    """Evaluate ``text`` with ``values`` for its variables; ExpressionError on failure."""
    evaluator = compile_expression(text, tuple(sorted(values)))
    try:
        result = evaluator(values)
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except OverflowError:
        raise ExpressionError("the result is too large") from None
    except ExpressionError:
        raise
    except (ValueError, TypeError) as error:
        raise ExpressionError(f"math error: {error}") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise ExpressionError("the result is not a finite number")
    return result


def _build(node: ast.AST, variables: frozenset[str]) -> Evaluator:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = node.value
        return lambda values: value
    if isinstance(node, ast.Name):
        name = node.id
        if name in variables:
            return lambda values: values[name]
        if name in CONSTANTS:
            constant = CONSTANTS[name]
            return lambda values: constant
        known = ", ".join(sorted(variables) + sorted(CONSTANTS))
        raise ExpressionError(f"unknown name {name!r} (known: {known})")
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        function = BINARY[type(node.op)]
        left, right = _build(node.left, variables), _build(node.right, variables)
        return lambda values: function(left(values), right(values))
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        function = UNARY[type(node.op)]
        operand = _build(node.operand, variables)
        return lambda values: function(operand(values))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = FUNCTIONS.get(node.func.id)
        if function is None:
            raise ExpressionError(
                f"unknown function {node.func.id!r} (known: {', '.join(sorted(FUNCTIONS))})"
            )
        arguments = [_build(argument, variables) for argument in node.args]
        if not arguments:
            raise ExpressionError(f"{node.func.id}() needs at least one number")
        return lambda values: function(*(argument(values) for argument in arguments))
    raise ExpressionError(f"{_describe(node)} is not allowed; use numbers, + - * / // % **, and functions")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return f"the value {node.value!r}"
    return f"'{type(node).__name__}'"
