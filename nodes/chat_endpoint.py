"""One chat completion from an OpenAI-compatible HTTP endpoint (OpenAI, OpenRouter,
Ollama, LM Studio, llama.cpp's server, vLLM, ...): ``POST {base}/chat/completions``.

Standard library only. Every failure becomes a NodeFailure that names the URL and
says what to do; none ever quotes the API key, even when a server echoes it back.
The request runs on a helper thread so a cancelled run stops waiting at once.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nodes.credentials import ENVIRONMENT_VARIABLE, SERVICE, entry_name
from nodes.spec import NodeFailure

USER_AGENT = "Reelgraph/0.1 (prompt enhancement)"
#: Enough for any chat completion; more is a misconfigured server, not an answer.
LARGEST_ANSWER = 8 * 1024 * 1024
#: How often a waiting node looks at its cancel token.
CANCEL_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ChatRequest:
    base_url: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    #: Sent only when set: servers that honour it (OpenAI, vLLM, llama.cpp) then repeat themselves.
    seed: int | None = None
    timeout: float = 60.0

    @property
    def url(self) -> str:
        return completions_url(self.base_url)

    def body(self) -> bytes:
        data: dict[str, Any] = {"model": self.model, "messages": self.messages, "max_tokens": self.max_tokens,
                                "temperature": self.temperature, "stream": False}
        if self.seed is not None:
            data["seed"] = self.seed
        return json.dumps(data).encode("utf-8")


def completions_url(base_url: str) -> str:
    """``https://api.example.com/v1`` -> ``https://api.example.com/v1/chat/completions``
    (a base URL typed with the path already on it is taken as it is)."""
    base = base_url.strip().rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return f"{base}/chat/completions"


def problem_with_base_url(base_url: str) -> str | None:
    """Why ``base_url`` cannot be called, or None."""
    if not base_url.strip():
        return ("no base URL given; type the server's, e.g. http://localhost:11434/v1 (Ollama), "
                "http://localhost:1234/v1 (LM Studio) or https://api.openai.com/v1")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{base_url.strip()!r} is not a web address; type one like http://localhost:11434/v1"
    return None


def shown(url: str) -> str:
    """The URL for messages, without any ``user:password@`` in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


def ask(ctx: Any, request: ChatRequest, api_key: str | None) -> str:
    """The reply's text; waits at most ``request.timeout`` seconds, stops waiting when
    the run is cancelled."""
    problem = problem_with_base_url(request.base_url)
    if problem:
        raise NodeFailure(problem)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def call() -> None:
        try:
            outcome["answer"] = _post(request, api_key)
        except BaseException as error:  # handed to the node's thread, which raises it
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=call, name="reelgraph-chat-endpoint", daemon=True).start()
    deadline = time.monotonic() + request.timeout + 1.0
    while not done.wait(CANCEL_POLL_SECONDS):
        ctx.check_cancelled()
        if time.monotonic() > deadline:
            raise NodeFailure(_timeout_message(request))
    if "error" in outcome:
        raise outcome["error"]
    return _reply_text(request, outcome["answer"], api_key)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would resend the key to wherever it points (and turn the POST into a
    GET); the creator should type the final address instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post(request: ChatRequest, api_key: str | None) -> bytes:
    url = request.url
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    prepared = urllib.request.Request(url, data=request.body(), headers=headers, method="POST")
    opener = urllib.request.build_opener(_RefuseRedirects)
    try:
        with opener.open(prepared, timeout=request.timeout) as response:
            return response.read(LARGEST_ANSWER + 1)
    except urllib.error.HTTPError as error:
        raise NodeFailure(_status_message(request, error, api_key)) from None
    except urllib.error.URLError as error:
        raise NodeFailure(_unreachable_message(request, error.reason)) from None
    except (TimeoutError, socket.timeout):
        raise NodeFailure(_timeout_message(request)) from None
    except http.client.HTTPException as error:  # a broken-off or garbled answer
        raise NodeFailure(f"the server at {shown(request.url)} broke off its answer or does not speak HTTP "
                          f"({type(error).__name__}); is the base URL right?") from None
    except (ConnectionError, ssl.SSLError, OSError) as error:
        raise NodeFailure(_unreachable_message(request, error)) from None


def _status_message(request: ChatRequest, error: urllib.error.HTTPError, api_key: str | None) -> str:
    url, base, code = shown(request.url), shown(request.base_url.strip().rstrip("/")), error.code
    try:
        said = _server_says(error.read(64 * 1024), api_key)
    except (OSError, ValueError):
        said = ""
    said = f": {said}" if said else ""
    if code in (401, 403):
        if api_key:
            return (f"the server at {url} refused the API key ({code}{said}); store the right key for {base} "
                    "(Reelgraph keeps it in the OS keyring, never in the workflow)")
        return (f"the server at {url} wants an API key ({code}{said}) and none is stored for {base}; store one "
                f"in the OS keyring with: keyring set {SERVICE} {entry_name(request.base_url)} "
                f"(or set {ENVIRONMENT_VARIABLE} where there is no keyring)")
    if code == 404:
        return (f"the server at {url} answered 404 not found{said}; check the base URL (it usually ends in /v1) "
                f"and the model name {request.model!r}")
    if code == 429:
        wait = error.headers.get("Retry-After") if error.headers else None
        after = f" (it asks to wait {wait} s)" if wait else ""
        return (f"the server at {url} is rate-limiting this key or its quota is used up (429{said}); "
                f"wait a moment and run again{after}, or check the account's plan")
    if 300 <= code < 400:
        location = error.headers.get("Location", "another address") if error.headers else "another address"
        return f"the server at {url} redirects to {shown(location)}; use that address as the base URL"
    if code >= 500:
        return f"the server at {url} failed ({code}{said}); it is the server's problem, try again later"
    return f"the server at {url} rejected the request ({code}{said})"


def _unreachable_message(request: ChatRequest, reason: Any) -> str:
    url = shown(request.url)
    if isinstance(reason, ConnectionRefusedError):
        return f"cannot reach {url}: connection refused; is the server running, and is the base URL right?"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return _timeout_message(request)
    if isinstance(reason, socket.gaierror):
        return f"cannot reach {url}: the host name is unknown (no network, or a typo in the base URL)"
    if isinstance(reason, ssl.SSLError):
        return f"cannot reach {url}: the secure connection failed ({getattr(reason, 'reason', None) or reason})"
    return f"cannot reach {url}: {getattr(reason, 'strerror', None) or reason}"


def _timeout_message(request: ChatRequest) -> str:
    return (f"no answer from {shown(request.url)} within {request.timeout:g} s; the server may be busy or loading "
            "the model; try again or raise the timeout")


def _reply_text(request: ChatRequest, answer: bytes, api_key: str | None) -> str:
    url = shown(request.url)
    if len(answer) > LARGEST_ANSWER:
        raise NodeFailure(f"the server at {url} sent more than {LARGEST_ANSWER // 1024**2} MB; "
                          "that is not a chat completion")
    try:
        data = json.loads(answer.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        start = _redact(answer[:60].decode("utf-8", "replace"), api_key)
        raise NodeFailure(f"the server at {url} did not answer with JSON (it began {start!r}); "
                          "is the base URL an OpenAI-compatible endpoint?") from None
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        said = _server_says(answer, api_key) if isinstance(data, dict) and "error" in data else ""
        raise NodeFailure(f"the answer from {url} is not an OpenAI-style chat completion (no "
                          f"choices[0].message.content){': ' + said if said else ''}") from None
    if content is None:
        return ""
    if not isinstance(content, str):
        raise NodeFailure(f"the answer from {url} has a message that is not text")
    return content


def _server_says(body: bytes, api_key: str | None) -> str:
    """The server's own explanation, short, with the key blanked out if it was echoed."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        found = data.get("error", data.get("message", data.get("detail")))
        if isinstance(found, dict):
            found = found.get("message", found.get("detail"))
        text = found if isinstance(found, str) else ""
    elif text.startswith("<"):  # an HTML error page says nothing a creator can use
        text = ""
    text = " ".join(_redact(text, api_key).split())
    return text if len(text) <= 200 else text[:197] + "…"


def _redact(text: str, api_key: str | None) -> str:
    if api_key and api_key in text:
        text = text.replace(api_key, "[API key]")
    return text
