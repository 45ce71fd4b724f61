"""Node specs: everything the inspector, the validator, the CLI and the executor need
to know about a node type, declared once next to the function that does the work.

A node is a plain function ``fn(ctx, **inputs)`` decorated with :func:`node`::

    @node("math.Add", category="math", description="Adds two numbers.",
          inputs=[Input("a", FLOAT, default=0.0), Input("b", FLOAT, default=0.0)],
          outputs=[Output("sum", FLOAT)], light=True)
    def add(ctx, a, b):
        return a + b

It returns one value (one output), a tuple in output order, or a dict by output name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from nodes.types import ANY, SCALAR_TYPES, constant_problem, describe_value


class _Missing:
    """The default of an input that has none (distinct from a default of None)."""

    _instance: "_Missing | None" = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

TYPE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class NodeFailure(Exception):
    """Raised by a node function to fail with a message meant for the creator.

    The executor shows the message as-is (prefixed with the node's name), so say
    what went wrong and, where you can, what to do about it.
    """


@dataclass(frozen=True)
class Input:
    """One input socket or widget of a node type."""

    name: str
    type: str
    default: Any = MISSING
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    multiline: bool = False
    optional: bool = False
    widget: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.choices is not None and not isinstance(self.choices, tuple):
            object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def required(self) -> bool:
        """A value must be given (typed in or linked): no default and not optional."""
        return not self.optional and self.default is MISSING

    @property
    def accepts_constant(self) -> bool:
        """The value may be typed into the document rather than linked."""
        return self.type in SCALAR_TYPES or self.type == ANY or self.choices is not None

    def constant_problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable as this input's typed-in value, or None."""
        if self.choices is not None:
            if value in self.choices and type(value) in {type(c) for c in self.choices}:
                return None
            shown = ", ".join(repr(choice) for choice in self.choices[:12])
            return f"must be one of {shown}"
        problem = constant_problem(self.type, value)
        if problem:
            return problem
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return f"is {describe_value(value)}, below the minimum {self.min}"
            if self.max is not None and value > self.max:
                return f"is {describe_value(value)}, above the maximum {self.max}"
        return None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.default is not MISSING:
            data["default"] = self.default
        for key in ("min", "max", "step", "widget"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.choices is not None:
            data["choices"] = list(self.choices)
        data["multiline"] = self.multiline
        data["optional"] = self.optional
        data["required"] = self.required
        if self.description:
            data["description"] = self.description
        return data


@dataclass(frozen=True)
class Output:
    """One output socket of a node type."""

    name: str
    type: str
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "type": self.type}
        if self.description:
            data["description"] = self.description
        return data


#: ``fingerprint(constants) -> value`` folds outside state (a file's size and time,
#: a random seed) into the cache key, so a changed file re-runs its node.
Fingerprint = Callable[[Mapping[str, Any]], Any]
#: ``check(constants) -> [(input_name, message, fix), ...]`` lets a node validate its
#: typed-in values beyond type and range (an expression that does not parse).
ConstantCheck = Callable[[Mapping[str, Any]], Iterable[tuple[str, str, str]]]


@dataclass(frozen=True)
class NodeSpec:
    """The declared contract of a node type; see the module docstring."""

    type_name: str
    function: Callable[..., Any]
    category: str
    description: str
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    display_name: str = ""
    #: Runs on a GPU lane (one per device) instead of the CPU thread pool.
    gpu: bool = False
    #: Produces a result for the creator (a file, a preview); a run's default targets.
    output: bool = False
    #: Gives a different result each run for the same inputs; never served from cache.
    non_deterministic: bool = False
    #: Cheaper than a thread hand-off (constants, arithmetic): runs on the scheduler thread.
    light: bool = False
    #: Already spreads its work over every core (OpenCV, torch): run one such node at a time.
    uses_all_cores: bool = False
    #: Bump when the node's results change for the same inputs; invalidates cached outputs.
    type_version: int = 1
    fingerprint: Fingerprint | None = None
    check: ConstantCheck | None = None
    inputs_by_name: Mapping[str, Input] = field(init=False, repr=False, compare=False)
    output_index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not TYPE_NAME_PATTERN.match(self.type_name):
            raise ValueError(
                f"node type name {self.type_name!r} must look like 'domain.Name' "
                "(letters, digits and underscores, separated by dots)"
            )
        names = [item.name for item in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"node type {self.type_name}: two inputs share a name")
        out_names = [item.name for item in self.outputs]
        if len(set(out_names)) != len(out_names):
            raise ValueError(f"node type {self.type_name}: two outputs share a name")
        if self.gpu and self.light:
            raise ValueError(f"node type {self.type_name}: a GPU node cannot be light")
        for item in self.inputs:
            if item.default is not MISSING and item.accepts_constant:
                problem = item.constant_problem(item.default)
                if problem:
                    raise ValueError(
                        f"node type {self.type_name}: default of input {item.name!r} {problem}"
                    )
        object.__setattr__(self, "inputs_by_name", {item.name: item for item in self.inputs})
        object.__setattr__(
            self, "output_index", {item.name: index for index, item in enumerate(self.outputs)}
        )
        if not self.display_name:
            object.__setattr__(self, "display_name", _words(self.type_name.rsplit(".", 1)[-1]))

    def normalise_result(self, result: Any) -> tuple[Any, ...]:
        """Turn what the node function returned into a tuple in output order."""
        count = len(self.outputs)
        if count == 0:
            return ()
        if isinstance(result, dict) and not (count == 1 and self.outputs[0].type == "DICT"):
            missing = [item.name for item in self.outputs if item.name not in result]
            if missing:
                raise TypeError(f"returned no value for output(s) {', '.join(missing)}")
            return tuple(result[item.name] for item in self.outputs)
        if count == 1:
            return (result,)
        if not isinstance(result, tuple) or len(result) != count:
            raise TypeError(f"returned {type(result).__name__}, expected {count} outputs")
        return result

    def to_json(self) -> dict[str, Any]:
        """The form ``reelgraph nodes --json`` prints and the editor's palette reads."""
        return {
            "display_name": self.display_name,
            "category": self.category,
            "description": self.description,
            "inputs": [item.to_json() for item in self.inputs],
            "outputs": [item.to_json() for item in self.outputs],
            "gpu": self.gpu,
            "output_node": self.output,
            "non_deterministic": self.non_deterministic,
            "type_version": self.type_version,
        }


def _words(name: str) -> str:
    """'ImageToVideo' -> 'Image To Video'."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)


def node(
    type_name: str,
    *,
    category: str,
    description: str,
    inputs: Sequence[Input] = (),
    outputs: Sequence[Output] = (),
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a node type; the decorated function gains a ``spec`` attribute.

    The registry picks up every such function in a node library module or pack.
    """

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        function.spec = NodeSpec(  # type: ignore[attr-defined]
            type_name=type_name,
            function=function,
            category=category,
            description=description,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            **options,
        )
        return function

    return declare
