"""Text for prompts and file names: built from pieces, or written out in full by a language model."""

from __future__ import annotations

import os
import re
import secrets
from typing import Any, Iterable, Mapping

from nodes.chat_endpoint import ChatRequest, ask, problem_with_base_url, shown
from nodes.credentials import api_key_for
from nodes.library.core import SEED_MAX
from nodes.models import LANGUAGE_MODEL, ModelError, ModelRef, resolve_source
from nodes.prompt_enhancement import TARGETS, chat_messages, clean_reply, require_text, write_locally
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import ANY, BOOLEAN, FLOAT, INT, STRING

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


# ----- prompt enhancement ------------------------------------------------------------------
BACKENDS = ("local", "http")


def _enhance_fingerprint(constants: Mapping[str, Any]) -> Any:
    """A sampled answer from a server cannot be had again, so that case runs every time;
    a local model is re-run when its files change on disk (replaced, re-downloaded)."""
    if constants.get("backend") == "http":
        return secrets.randbits(64) if not constants.get("deterministic", True) else None
    text = constants.get("model")
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        source = resolve_source(text, LANGUAGE_MODEL)
    except ModelError:
        return "missing"
    found = [source]
    for name in ("config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json"):
        try:
            status = os.stat(os.path.join(source, name))
        except OSError:
            continue
        found.append((name, status.st_size, status.st_mtime_ns))
    return tuple(found)


def _check_enhance(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    backend = constants.get("backend", "local")
    if backend == "local":
        text = constants.get("model")
        if isinstance(text, str) and not text.strip():
            yield "model", "names no language model", (
                "put a model folder in the models folder's LLM/ and type its name, or give its full path"
            )
        elif isinstance(text, str):
            try:
                resolve_source(text, LANGUAGE_MODEL)
            except ModelError as error:
                yield "model", str(error), "put the model folder in the models folder's LLM/, or give its full path"
    elif backend == "http":
        base_url = constants.get("base_url")
        if isinstance(base_url, str):
            problem = problem_with_base_url(base_url)
            if problem:
                yield "base_url", problem, "type the server's base URL, e.g. http://localhost:11434/v1"
        remote = constants.get("remote_model")
        if isinstance(remote, str) and not remote.strip():
            yield "remote_model", "names no model", "type the model's name on the server, e.g. gpt-4o-mini or llama3.2"


@node("text.EnhancePrompt", category="text",
      description="Turns a casual idea ('a fox in snow') into a detailed, cinematic prompt with a language "
                  "model: a local one (a folder in the models folder's LLM/) or any OpenAI-compatible server "
                  "(its API key is kept in the OS keyring, never in the workflow).",
      inputs=[Input("prompt", STRING, default="", multiline=True),
              Input("target", STRING, default="video", choices=TARGETS,
                    description="what the prompt is for: a video model (camera, motion) or an image model"),
              Input("backend", STRING, default="local", choices=BACKENDS,
                    description="local: a language model on this machine; http: an OpenAI-compatible server"),
              Input("model", STRING, default="", widget="model:language_model",
                    description="local: a model folder in the models folder's LLM/, or its full path"),
              Input("base_url", STRING, default="",
                    description="http: the endpoint's base URL; its API key is looked up by this URL"),
              Input("remote_model", STRING, default="",
                    description="http: the model's name on the server"),
              Input("deterministic", BOOLEAN, default=True,
                    description="the same words every time (greedy / temperature 0); off: sampled with the seed"),
              Input("seed", INT, default=0, min=0, max=SEED_MAX, widget="seed"),
              Input("temperature", FLOAT, default=0.7, min=0.0, max=2.0, step=0.05),
              Input("max_new_tokens", INT, default=200, min=1, max=4096),
              Input("timeout", FLOAT, default=60.0, min=1.0, max=600.0, step=1.0,
                    description="http: seconds to wait for the answer")],
      outputs=[Output("prompt", STRING)], gpu=True, fingerprint=_enhance_fingerprint, check=_check_enhance)
def enhance_prompt(ctx: Any, prompt: str, target: str, backend: str, model: str, base_url: str, remote_model: str,
                   deterministic: bool, seed: int, temperature: float, max_new_tokens: int, timeout: float) -> str:
    messages = chat_messages(prompt, target)
    if backend == "http":
        request = ChatRequest(base_url.strip(), remote_model.strip(), messages, max_new_tokens,
                              0.0 if deterministic else float(temperature), seed % 2**63 if deterministic else None,
                              float(timeout))
        ctx.progress(0.0, None, f"asking {shown(request.url)}")
        reply = ask(ctx, request, api_key_for(request.base_url))
        writer = f"{remote_model.strip()} at {shown(request.base_url)}"
    else:
        reference = ModelRef(resolve_source(model, LANGUAGE_MODEL), LANGUAGE_MODEL)
        ctx.progress(0.0, None, f"loading {reference.name}")
        language_model, tokenizer = ctx.models.language_model(reference, ctx.device)
        reply = ctx.models.run_guarded(
            ctx.device, reference,
            lambda: write_locally(ctx, language_model, tokenizer, messages, max_new_tokens=max_new_tokens,
                                  temperature=temperature, seed=seed, deterministic=deterministic),
            "prompt enhancement")
        writer = f"the language model {reference.name}"
    ctx.progress(1.0)
    return require_text(clean_reply(reply), writer)
