"""Arithmetic on numbers: sizes, frame counts, strengths computed from other values."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from nodes.safe_arithmetic import ExpressionError, compile_expression, evaluate
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import FLOAT, INT, STRING

VARIABLES = ("a", "b", "c", "d")


@node("math.Add", category="math", description="Adds two numbers.",
      inputs=[Input("a", FLOAT, default=0.0), Input("b", FLOAT, default=0.0)],
      outputs=[Output("sum", FLOAT)], light=True)
def add(ctx: Any, a: float, b: float) -> float:
    return a + b


@node("math.Multiply", category="math", description="Multiplies two numbers.",
      inputs=[Input("a", FLOAT, default=1.0), Input("b", FLOAT, default=1.0)],
      outputs=[Output("product", FLOAT)], light=True)
def multiply(ctx: Any, a: float, b: float) -> float:
    return a * b


def _check_expression(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    text = constants.get("expression")
    if isinstance(text, str):
        try:
            compile_expression(text, VARIABLES)
        except ExpressionError as error:
            yield "expression", str(error), (
                "use numbers, a b c d, + - * / // % ** and functions such as min, max, clamp"
            )


@node("math.Expression", category="math",
      description="Computes a formula of a, b, c and d, such as '(a + b) / 2' or 'max(512, a * 8)'. "
                  "Safe: only arithmetic and a few math functions, never code.",
      inputs=[Input("expression", STRING, default="a + b"),
              *(Input(name, FLOAT, default=0.0, optional=True) for name in VARIABLES)],
      outputs=[Output("result", FLOAT), Output("rounded", INT)],
      light=True, check=_check_expression)
def expression(ctx: Any, expression: str, a: float = 0.0, b: float = 0.0,
               c: float = 0.0, d: float = 0.0) -> tuple[float, int]:
    try:
        result = evaluate(expression, {"a": a, "b": b, "c": c, "d": d})
    except ExpressionError as error:
        raise NodeFailure(f"the expression {expression[:60]!r} failed: {error}") from None
    return result, int(round(result))
