"""Text for prompts and file names, built from pieces."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import ANY, STRING

SLOTS = ("a", "b", "c", "d")
#: ``{name}`` is a slot, ``{{`` and ``}}`` are literal braces; nothing else is special,
#: unlike ``str.format``, which would let a template reach an object's attributes.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def fill_template(template: str, values: Mapping[str, Any]) -> str:
    """Replace each ``{slot}`` with its value; a KeyError names an unknown slot."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1).strip()
        if name not in values:
            raise KeyError(name)
        value = values[name]
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(replace, template)


def _check_template(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    template = constants.get("template")
    if isinstance(template, str):
        for match in PLACEHOLDER.finditer(template):
            name = match.group(1)
            if name is not None and name.strip() not in SLOTS:
                yield "template", f"uses {{{name}}}, which is not a slot", (
                    "use the slots " + ", ".join("{" + slot + "}" for slot in SLOTS)
                    + "; write {{ and }} for literal braces"
                )


@node("text.Template", category="text",
      description="Builds text from a template with slots {a} {b} {c} {d}, "
                  "e.g. 'a {a} in the style of {b}'. Write {{ and }} for literal braces.",
      inputs=[Input("template", STRING, default="{a}", multiline=True),
              *(Input(slot, ANY, default="", optional=True) for slot in SLOTS)],
      outputs=[Output("text", STRING)], light=True, check=_check_template)
def template(ctx: Any, template: str, **slots: Any) -> str:
    values = {slot: slots.get(slot, "") for slot in SLOTS}
    try:
        return fill_template(template, values)
    except KeyError as error:
        raise NodeFailure(f"the template uses {{{error.args[0]}}}, which is not a slot") from None
