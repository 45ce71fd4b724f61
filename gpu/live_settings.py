"""What the live sketch canvas paints with (:class:`LiveSettings`), the few-step
recipes that make it fast, and the adaptive pause before a stroke is painted.

Few-step recipes, as diffusers and the model cards give them:

- SD-Turbo, SDXL-Turbo (adversarial distillation): no guidance (cfg 0), 1–4 steps,
  a scheduler with "trailing" timestep spacing; image-to-image needs
  steps × strength ≥ 1 (diffusers' example: 2 steps at strength 0.5 = one step).
- SDXL-Lightning: the same (cfg 0, Euler with trailing spacing, 2–8 steps).
- LCM and LCM-LoRA: the LCM scheduler, 4 steps, cfg 1 (guidance off; LCM-LoRA
  allows 1–2).
- Hyper-SD N-step LoRAs: DDIM with trailing spacing, cfg 0, as many steps as the
  LoRA was made for (the 1-step unified LoRA wants TCD, which this table does not
  offer; its 2-step use works with DDIM trailing).

``LiveSettings.steps`` counts the denoising steps that really run, whatever the
strength: the live graph asks ``diffusion.SketchToImage`` for ceil(steps / strength)
so that int(those × strength) = steps (diffusers runs only strength × steps).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from nodes.library.core import SEED_MAX
from nodes.models import CONTROLNET, ModelRef

MAX_NODE_STEPS = 150


@dataclass(frozen=True)
class LiveSettings:
    """Everything but the canvas and the model that decides the live picture."""

    prompt: str = ""
    negative: str = ""
    seed: int = 0
    #: Denoising steps that really run (see the module docstring).
    steps: int = 1
    cfg: float = 0.0
    #: Without a ControlNet: how far the sketch is repainted (0 keeps it, 1 ignores it).
    strength: float = 0.5
    scheduler: str = "default"
    #: A scribble/lineart ControlNet: the sketch's lines guide a fresh painting instead.
    controlnet: ModelRef | None = None
    control_strength: float = 1.0
    #: The longer side of the picture painted, in pixels (sides rounded to multiples of
    #: 8); 0 paints at the canvas's own size, cut to multiples of 8.
    size: int = 512

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"the seed {self.seed} is outside 0 to {SEED_MAX}")
        if self.steps < 1:
            raise ValueError(f"a live picture needs at least one step, not {self.steps}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"the strength {self.strength} is outside 0 to 1")

    def node_steps(self) -> int:
        """The ``steps`` to give SketchToImage so that ``self.steps`` of them run."""
        if self.controlnet is not None or self.strength <= 0:
            return min(MAX_NODE_STEPS, self.steps)
        steps = math.ceil(self.steps / self.strength - 1e-9)
        while int(steps * self.strength) < self.steps:
            steps += 1
        return min(MAX_NODE_STEPS, steps)

    def with_seed(self, seed: int) -> "LiveSettings":
        return replace(self, seed=seed)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["controlnet"] = self.controlnet.source if self.controlnet is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LiveSettings":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        source = known.get("controlnet")
        known["controlnet"] = ModelRef(source, CONTROLNET) if isinstance(source, str) and source else None
        return cls(**known)


@dataclass(frozen=True)
class Recipe:
    """How a family of few-step models wants to be run."""

    words: tuple[str, ...]
    steps: int
    cfg: float
    scheduler: str
    strength: float = 0.5


RECIPES = (
    Recipe(("turbo",), steps=1, cfg=0.0, scheduler="euler_trailing"),
    Recipe(("lightning",), steps=2, cfg=0.0, scheduler="euler_trailing"),
    Recipe(("lcm",), steps=4, cfg=1.0, scheduler="lcm"),
    Recipe(("hyper-sd", "hyper_sd", "hypersd"), steps=2, cfg=0.0, scheduler="ddim_trailing"),
)
#: A model that is not few-step still paints live, only slower.
ORDINARY = Recipe((), steps=6, cfg=5.0, scheduler="default", strength=0.6)


def recipe_for(model: ModelRef) -> Recipe:
    """The recipe the model's name (or one of its LoRAs' names) calls for."""
    names = " ".join([model.name, *(lora.name for lora, _ in model.loras)]).lower()
    for recipe in RECIPES:
        if any(word in names for word in recipe.words):
            return recipe
    return ORDINARY


def settings_for(model: ModelRef, **choices: Any) -> LiveSettings:
    """Live settings that suit ``model`` (its few-step recipe), with ``choices`` on top."""
    recipe = recipe_for(model)
    base = LiveSettings(steps=recipe.steps, cfg=recipe.cfg, scheduler=recipe.scheduler, strength=recipe.strength)
    return replace(base, **choices)


@dataclass
class AdaptivePause:
    """How long a change waits before it is painted.

    The rule: a change that ends a gesture (pen up, fill, undo, a new prompt) is
    painted at once. A change in the middle of one (``ongoing``: the pen still moving)
    waits ``shortest`` (30 ms) of quiet; each further change less than ``fast_gap``
    (100 ms) after the one before adds ``growth`` (15 ms), up to ``longest`` (120 ms),
    and a slower one starts again from ``shortest``. Waiting pays off only because
    another change is coming, and the faster they come the likelier that is. So that
    the picture still follows a long stroke, no change waits more than
    ``longest_wait`` (250 ms) after the first change it gathers, or one generation
    time if that is longer (starting more often would only start runs that are
    cancelled before they finish).
    """

    shortest: float = 0.030
    longest: float = 0.120
    growth: float = 0.015
    fast_gap: float = 0.100
    longest_wait: float = 0.250
    current: float = field(default=0.030, init=False)
    last_change: float = field(default=-math.inf, init=False)

    def due(self, now: float, ongoing: bool, gathering_since: float | None, generation: float) -> float:
        """When a change made at ``now`` should start; ``gathering_since`` is when the
        oldest change not yet painted came (None when there is none)."""
        fast = now - self.last_change < self.fast_gap
        self.current = min(self.longest, self.current + self.growth) if fast else self.shortest
        self.last_change = now
        if not ongoing:
            return now
        due = now + self.current
        if gathering_since is not None:
            due = min(due, gathering_since + max(self.longest_wait, generation))
        return max(now, due)
