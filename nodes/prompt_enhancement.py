"""Turning a casual idea ("a fox in snow") into a detailed prompt a video or image
model does well with, by asking a language model: a local one (transformers, on the
node's device) or one behind an OpenAI-compatible endpoint (``nodes.chat_endpoint``).

Both get the same instructions (a system message written for prompt writing) and
their replies get the same clean-up, so switching backends changes the writer, not
the shape of what comes back. torch and transformers are imported inside the
functions that use them.
"""

from __future__ import annotations

import re
from typing import Any

from nodes.spec import NodeFailure

TARGETS = ("video", "image")
#: Sampling keeps the likeliest tokens up to this much probability: the long tail of
#: a small model's vocabulary is where the nonsense is.
TOP_P = 0.95
#: A light push away from repeating itself, which small models do in greedy mode.
REPETITION_PENALTY = 1.05

SYSTEM_MESSAGES = {
    "video": (
        "You write prompts for a text-to-video model. Rewrite the user's idea as one detailed, "
        "cinematic prompt. Keep the subject and the intent of the idea, and add what the camera sees: "
        "the subject's look and motion, the setting, the light and time of day, the colour palette, "
        "the mood, the shot size, lens and camera movement (slow dolly, handheld, aerial, locked-off), "
        "and the visual style (photoreal, 35mm film, anime, claymation, ...). Describe one continuous "
        "shot in the present tense, as a single paragraph of 60 to 120 words. Answer with the prompt "
        "only: no title, no preamble, no quotation marks, no lists."
    ),
    "image": (
        "You write prompts for a text-to-image model. Rewrite the user's idea as one detailed, "
        "vivid prompt. Keep the subject and the intent of the idea, and add what the picture shows: "
        "the subject's look and pose, the setting, the composition and framing, the lens, the light, "
        "the colour palette, the mood and the visual style (photograph, oil painting, concept art, ...). "
        "Write a single paragraph of 40 to 80 words. Answer with the prompt only: no title, no preamble, "
        "no quotation marks, no lists."
    ),
}

THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
LABEL = re.compile(r"^\s*(?:\*\*)?(?:enhanced |detailed |improved |final )?prompt(?:\*\*)?\s*:\s*(?:\*\*)?\s*",
                   re.IGNORECASE)
QUOTES = {'"': '"', "'": "'", "“": "”", "«": "»", "`": "`"}


def chat_messages(prompt: str, target: str) -> list[dict[str, str]]:
    """The conversation both backends are given: the writer's brief, then the idea."""
    if not prompt.strip():
        raise NodeFailure("the prompt is empty; type the idea to enhance, e.g. 'a fox in snow'")
    if target not in SYSTEM_MESSAGES:
        raise NodeFailure(f"cannot write prompts for {target!r}; choose one of {', '.join(TARGETS)}")
    return [{"role": "system", "content": SYSTEM_MESSAGES[target]},
            {"role": "user", "content": prompt.strip()}]


def clean_reply(text: str) -> str:
    """The prompt alone: no reasoning block, no 'Prompt:' label, no wrapping quotes,
    one paragraph."""
    text = THINKING.sub("", text)
    if "</think>" in text.lower():  # a reasoning block whose opening tag the template already wrote
        text = text[text.lower().rindex("</think>") + len("</think>"):]
    text = LABEL.sub("", text.strip())
    text = " ".join(text.split())
    if len(text) >= 2 and QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def require_text(text: str, writer: str) -> str:
    if not text:
        raise NodeFailure(f"{writer} wrote nothing usable; try another seed, turn deterministic off, "
                          "or allow more new tokens")
    return text


# ----- the local backend -----------------------------------------------------------------
def write_locally(ctx: Any, model: Any, tokenizer: Any, messages: list[dict[str, str]], *, max_new_tokens: int,
                  temperature: float, seed: int, deterministic: bool) -> str:
    """Generate the reply with a causal LM already on ``ctx``'s device.

    Greedy in deterministic mode (or at temperature 0); otherwise sampled with a CPU
    generator seeded from ``seed``, so one seed gives one text on every device and
    no other node's random numbers move. Reports progress per token and stops at the
    next token when the run is cancelled.
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

    encoded = encode_conversation(tokenizer, messages)
    device = getattr(model, "device", torch.device("cpu"))
    input_ids = encoded["input_ids"].to(device)
    attention_mask = encoded.get("attention_mask")
    prompt_length = int(input_ids.shape[1])
    settings = GenerationConfig(
        max_new_tokens=int(max_new_tokens), do_sample=False, repetition_penalty=REPETITION_PENALTY,
        eos_token_id=_eos_ids(model, tokenizer), pad_token_id=_pad_id(model, tokenizer),
    )
    watch = _token_watch(ctx, prompt_length, int(max_new_tokens))
    processors = LogitsProcessorList()
    if not deterministic and temperature > 0:
        processors.append(_seeded_sampler(seed, temperature))
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask.to(device) if attention_mask is not None else None,
            generation_config=settings, logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([watch]),
        )
    ctx.check_cancelled()
    return tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True)


def encode_conversation(tokenizer: Any, messages: list[dict[str, str]]) -> Any:
    """Token ids for the conversation through the model's own chat template; a template
    that refuses a system role gets the brief at the top of the user's turn, and a
    tokenizer with no template gets plain text."""
    if getattr(tokenizer, "chat_template", None):
        folded = [{"role": "user", "content": f"{messages[0]['content']}\n\n{messages[1]['content']}"}]
        failure: Exception = ValueError("no conversation tried")
        for conversation in (messages, folded):
            try:
                return tokenizer.apply_chat_template(conversation, add_generation_prompt=True, return_tensors="pt",
                                                     return_dict=True)
            except Exception as error:  # jinja2's TemplateError: "System role not supported" and friends
                failure = error
        raise NodeFailure(f"the language model's chat template failed: {_first_line(failure)}")
    text = f"{messages[0]['content']}\n\nIdea: {messages[1]['content']}\nPrompt:"
    return tokenizer(text, return_tensors="pt")


def _eos_ids(model: Any, tokenizer: Any) -> Any:
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    return configured if configured is not None else tokenizer.eos_token_id


def _pad_id(model: Any, tokenizer: Any) -> Any:
    configured = getattr(getattr(model, "generation_config", None), "pad_token_id", None)
    if configured is not None:
        return configured
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    eos = _eos_ids(model, tokenizer)
    return eos[0] if isinstance(eos, (list, tuple)) and eos else eos


def _token_watch(ctx: Any, prompt_length: int, max_new_tokens: int) -> Any:
    """A stopping criterion that reports each new token as progress and stops
    generation once the run is cancelled."""
    import torch
    from transformers import StoppingCriteria

    class TokenWatch(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            stop = ctx.cancel.cancelled
            if not stop:
                ctx.progress((input_ids.shape[1] - prompt_length) / max(1, max_new_tokens))
            return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

    return TokenWatch()


def _seeded_sampler(seed: int, temperature: float) -> Any:
    """Sampling as a logits processor: draws the next token with its own CPU generator
    and leaves only that token possible, so generate's greedy step picks it."""
    import torch
    from transformers import LogitsProcessor

    generator = torch.Generator(device="cpu").manual_seed(int(seed))

    class SeededSampler(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            probabilities = torch.softmax(scores.float().cpu() / temperature, dim=-1)
            ordered, order = probabilities.sort(dim=-1, descending=True)
            outside = ordered.cumsum(dim=-1) - ordered > TOP_P  # always keeps the likeliest token
            ordered[outside] = 0.0
            picked = order.gather(-1, torch.multinomial(ordered, 1, generator=generator))
            only = torch.full_like(scores, float("-inf"))
            return only.scatter_(1, picked.to(scores.device), 0.0)

    return SeededSampler()


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]
