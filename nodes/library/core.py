"""Constants a creator types in once and wires to many inputs: numbers, text, switches, seeds."""

from __future__ import annotations

import secrets
from typing import Any, Mapping

from nodes.spec import Input, Output, node
from nodes.types import ANY, BOOLEAN, FLOAT, INT, STRING

SEED_MAX = 2**64 - 1


@node("core.Int", category="core", description="A whole number to wire into other nodes.",
      inputs=[Input("value", INT, default=0, min=-(2**63), max=2**63 - 1, step=1)],
      outputs=[Output("value", INT)], light=True)
def integer(ctx: Any, value: int) -> int:
    return value


@node("core.Float", category="core", description="A number with decimals to wire into other nodes.",
      inputs=[Input("value", FLOAT, default=0.0, step=0.01)],
      outputs=[Output("value", FLOAT)], light=True)
def floating(ctx: Any, value: float) -> float:
    return float(value)


@node("core.String", category="core", description="Text, such as a prompt, to wire into other nodes.",
      inputs=[Input("value", STRING, default="", multiline=True)],
      outputs=[Output("value", STRING)], light=True)
def string(ctx: Any, value: str) -> str:
    return value


@node("core.Bool", category="core", description="An on/off switch to wire into other nodes.",
      inputs=[Input("value", BOOLEAN, default=False)],
      outputs=[Output("value", BOOLEAN)], light=True)
def boolean(ctx: Any, value: bool) -> bool:
    return value


def _seed_fingerprint(constants: Mapping[str, Any]) -> Any:
    """A random seed changes every run, so it must never come from the cache."""
    if constants.get("mode", "fixed") == "randomize":
        return secrets.randbits(64)
    return None


@node("core.Seed", category="core",
      description="A seed for random generation: fixed, to get the same result again, "
                  "or randomized on every run to explore variations.",
      inputs=[Input("seed", INT, default=0, min=0, max=SEED_MAX, step=1, widget="seed"),
              Input("mode", STRING, default="fixed", choices=("fixed", "randomize"))],
      outputs=[Output("seed", INT)], light=True, fingerprint=_seed_fingerprint)
def seed(ctx: Any, seed: int, mode: str) -> int:
    if mode == "randomize":
        return secrets.randbelow(SEED_MAX + 1)
    return seed


@node("core.Reroute", category="core",
      description="A bend in a wire: passes any value through unchanged, to keep a busy graph tidy.",
      inputs=[Input("value", ANY)], outputs=[Output("value", ANY)], light=True)
def reroute(ctx: Any, value: Any) -> Any:
    return value
