"""text.EnhancePrompt: a creator types "a fox in snow" and gets a detailed, cinematic
prompt back, written by a tiny local language model (built from a config at test
time) or by an OpenAI-compatible server (a real ``http.server`` on localhost), with
the API key kept in the keyring (or its fallbacks) and never anywhere else."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest

from gpu.events import NODE_PROGRESS, RunEvent, RunResult
from gpu.executor import Executor
from nodes.context import CancelToken
from nodes.credentials import (
    ENVIRONMENT_URL_VARIABLE, ENVIRONMENT_VARIABLE, SERVICE, api_key_for, forget_api_key, key_file, store_api_key,
)
from nodes.graph import Graph
from nodes.problems import WorkflowError
from nodes.prompt_enhancement import SYSTEM_MESSAGES, clean_reply
from nodes.registry import NodeRegistry

KEY = "sk-test-5ecret-7f3a9c1e"
IDEA = "a fox in snow"
PATIENCE = 10.0


# ----- fixtures: a tiny model, a chat server, keyrings ------------------------------------------
@pytest.fixture(scope="module")
def language_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_language_model import build_language_models_folder

    return build_language_models_folder(tmp_path_factory.mktemp("language-models"))


@pytest.fixture
def models_here(language_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REELGRAPH_MODELS", str(language_models))
    return language_models


@pytest.fixture
def make_executor(registry: NodeRegistry, tmp_path: Path) -> Iterator[Callable[[], Executor]]:
    made: list[Executor] = []

    def make() -> Executor:
        made.append(Executor(registry, output_dir=tmp_path / "output"))
        return made[-1]

    yield make
    for executor in made:
        executor.close()


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict, for machines with a real one and those without."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has its own data folder and no key or proxy from the machine's environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("REELGRAPH_HOME", str(home))
    for name in (ENVIRONMENT_VARIABLE, ENVIRONMENT_URL_VARIABLE, "http_proxy", "HTTP_PROXY", "https_proxy",
                 "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The OS has no keyring (as on a headless Linux box), whatever this machine has."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@dataclass
class ChatServer:
    """An OpenAI-compatible endpoint on localhost that records what it was sent and
    answers as the test tells it (``status``, ``body``, ``delay``)."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reply: str = '"A lone red fox pads through falling snow at dawn, slow dolly, 35mm film grain."'
    released: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    state: ChatServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            state.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw,
                                   "json": json.loads(raw)})
            if state.delay:
                state.released.wait(state.delay)
            if state.status == 0:  # hang up without a word
                self.close_connection = True
                return
            body = state.body if state.body is not None else json.dumps({
                "id": "chatcmpl-1", "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": state.reply},
                             "finish_reason": "stop"}],
            }).encode()
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = ChatServer(f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.released.set()
    server.shutdown()
    server.server_close()


# ----- helpers --------------------------------------------------------------------------
def enhance_graph(**inputs: Any) -> Graph:
    """A workflow of one text.EnhancePrompt node, id "enhance"; the idea unless ``prompt`` is given."""
    node = {"type": "text.EnhancePrompt", "inputs": {"prompt": IDEA, **inputs}, "title": "", "pos": [0, 0],
            "bypass": False}
    return Graph.from_dict({"format": "reelgraph.workflow", "version": 1, "nodes": {"enhance": node},
                            "groups": [], "meta": {}})


def run_enhance(executor: Executor, events: list[RunEvent] | None = None, cancel: CancelToken | None = None,
                **inputs: Any) -> RunResult:
    listener = events.append if events is not None else None
    return executor.run(enhance_graph(**inputs), cancel=cancel, on_event=listener)


def local(**inputs: Any) -> dict[str, Any]:
    return {"backend": "local", "model": "tiny-llm", "max_new_tokens": 16, **inputs}


def over_http(server: ChatServer, **inputs: Any) -> dict[str, Any]:
    return {"backend": "http", "base_url": server.base_url, "remote_model": "tiny-chat", **inputs}


def error_of(result: RunResult) -> str:
    assert not result.ok and "enhance" in result.errors, result
    return result.errors["enhance"].message


def assert_key_nowhere(result: RunResult, events: list[RunEvent], graph: Graph, caplog: pytest.LogCaptureFixture
                       ) -> None:
    assert KEY not in json.dumps(graph.to_dict())
    for error in result.errors.values():
        assert KEY not in error.message and KEY not in error.traceback
    for event in events:
        assert KEY not in json.dumps(event.to_json()) and KEY not in repr(event)
    assert KEY not in caplog.text


# ----- the local backend ---------------------------------------------------------------------
def test_local_model_writes_a_prompt_from_the_idea(models_here: Path, make_executor: Callable[[], Executor]) -> None:
    result = run_enhance(make_executor(), **local())
    assert result.ok, result.errors
    prompt = result.output("enhance", "prompt")
    assert isinstance(prompt, str) and len(prompt.split()) >= 4
    assert "<" not in prompt  # no special tokens, no chat-template markers


def test_deterministic_mode_gives_the_same_prompt_again_and_on_a_fresh_executor(
        models_here: Path, make_executor: Callable[[], Executor]) -> None:
    executor = make_executor()
    first = run_enhance(executor, **local(deterministic=True, seed=1))
    again = run_enhance(executor, **local(deterministic=True, seed=2))  # the seed does not matter when greedy
    assert first.ok and again.ok
    assert again.executed == ["enhance"]  # another seed is another cache key, and it ran
    fresh = run_enhance(make_executor(), **local(deterministic=True, seed=1))
    assert first.output("enhance") == again.output("enhance") == fresh.output("enhance")
    assert run_enhance(executor, **local(deterministic=True, seed=1)).cached == ["enhance"]


def test_sampling_differs_between_seeds_and_repeats_for_one_seed(
        models_here: Path, make_executor: Callable[[], Executor]) -> None:
    texts = {seed: run_enhance(make_executor(), **local(deterministic=False, temperature=1.0, seed=seed))
             .output("enhance") for seed in (1, 2, 3)}
    assert len(set(texts.values())) > 1
    again = run_enhance(make_executor(), **local(deterministic=False, temperature=1.0, seed=2)).output("enhance")
    assert again == texts[2]


def test_sampling_leaves_the_global_random_numbers_alone(models_here: Path,
                                                         make_executor: Callable[[], Executor]) -> None:
    import torch

    executor = make_executor()
    assert run_enhance(executor, **local()).ok  # the model is loaded and warm
    torch.manual_seed(1234)
    expected = torch.rand(4)
    torch.manual_seed(1234)
    assert run_enhance(executor, **local(deterministic=False, seed=5)).ok
    assert torch.equal(torch.rand(4), expected)


def test_progress_is_reported_token_by_token(models_here: Path, make_executor: Callable[[], Executor]) -> None:
    events: list[RunEvent] = []
    result = run_enhance(make_executor(), events, **local(max_new_tokens=12))
    assert result.ok
    progress = [event for event in events if event.kind == NODE_PROGRESS and event.node_id == "enhance"]
    fractions = [event.fraction for event in progress]
    assert len(fractions) >= 12
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert min(fraction for fraction in fractions if fraction > 0) == pytest.approx(1 / 12)
    assert progress[0].message == "loading tiny-llm"


def test_cancel_mid_generation_stops_at_the_next_token(models_here: Path,
                                                       make_executor: Callable[[], Executor]) -> None:
    cancel = CancelToken()
    events: list[RunEvent] = []

    def listen(event: RunEvent) -> None:
        events.append(event)
        if event.kind == NODE_PROGRESS and (event.fraction or 0) > 0.01:
            cancel.cancel()

    begun = time.perf_counter()
    result = make_executor().run(enhance_graph(**local(max_new_tokens=1500)), cancel=cancel, on_event=listen)
    assert time.perf_counter() - begun < 10
    assert result.cancelled and not result.errors
    assert result.skipped["enhance"] == "cancelled while running"
    tokens_reported = [event for event in events if event.kind == NODE_PROGRESS and (event.fraction or 0) > 0]
    assert len(tokens_reported) < 100  # stopped near 1% of 1500 tokens, not at the end


def test_a_chat_template_without_a_system_role_gets_the_brief_in_the_user_turn(
        models_here: Path, make_executor: Callable[[], Executor]) -> None:
    result = run_enhance(make_executor(), **local(model="tiny-llm-no-system"))
    assert result.ok, result.errors
    assert result.output("enhance")


def test_a_local_model_that_is_not_there_is_named_before_the_run(
        models_here: Path, make_executor: Callable[[], Executor]) -> None:
    with pytest.raises(WorkflowError) as raised:
        run_enhance(make_executor(), **local(model="no-such-llm"))
    assert "no-such-llm" in str(raised.value) and str(models_here / "LLM") in str(raised.value)
    with pytest.raises(WorkflowError, match="names no language model"):
        run_enhance(make_executor(), **local(model=""))


def test_an_empty_idea_fails_with_words(models_here: Path, make_executor: Callable[[], Executor]) -> None:
    result = run_enhance(make_executor(), **local(prompt="  "))
    assert "the prompt is empty" in error_of(result)


@pytest.mark.parametrize("reply, prompt", [
    ('"A fox in snow, golden light."', "A fox in snow, golden light."),
    ("<think>the user wants a fox</think>\n\nPrompt: A fox\nin snow.", "A fox in snow."),
    ("the user wants a fox</think> **Enhanced prompt:** A fox in snow", "A fox in snow"),
    ("“A fox.”", "A fox."),
])
def test_replies_are_cleaned_down_to_the_prompt(reply: str, prompt: str) -> None:
    assert clean_reply(reply) == prompt


# ----- the HTTP backend -----------------------------------------------------------------------
def test_http_backend_sends_a_standard_chat_request_with_the_stored_key(
        chat_server: ChatServer, memory_keyring: MemoryKeyring, make_executor: Callable[[], Executor],
        caplog: pytest.LogCaptureFixture) -> None:
    store_api_key(chat_server.base_url + "/", KEY)
    events: list[RunEvent] = []
    inputs = over_http(chat_server, deterministic=True, seed=42, max_new_tokens=300)
    result = run_enhance(make_executor(), events, **inputs)
    assert result.ok, result.errors
    assert result.output("enhance") == "A lone red fox pads through falling snow at dawn, slow dolly, 35mm film grain."
    (request,) = chat_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["json"]
    assert body["model"] == "tiny-chat"
    assert body["messages"] == [{"role": "system", "content": SYSTEM_MESSAGES["video"]},
                                {"role": "user", "content": IDEA}]
    assert body["temperature"] == 0 and body["seed"] == 42 and body["max_tokens"] == 300
    assert body["stream"] is False
    assert_key_nowhere(result, events, enhance_graph(**inputs), caplog)


def test_deterministic_answers_come_from_the_cache_and_sampled_ones_are_asked_again(
        chat_server: ChatServer, make_executor: Callable[[], Executor]) -> None:
    executor = make_executor()
    assert run_enhance(executor, **over_http(chat_server, deterministic=True)).ok
    assert run_enhance(executor, **over_http(chat_server, deterministic=True)).cached == ["enhance"]
    assert len(chat_server.requests) == 1
    for _ in range(2):
        assert run_enhance(executor, **over_http(chat_server, deterministic=False, temperature=0.9)).ok
    assert len(chat_server.requests) == 3
    sampled = chat_server.requests[-1]["json"]
    assert sampled["temperature"] == 0.9 and "seed" not in sampled


def test_without_a_stored_key_no_authorization_is_sent(chat_server: ChatServer, memory_keyring: MemoryKeyring,
                                                       make_executor: Callable[[], Executor]) -> None:
    assert run_enhance(make_executor(), **over_http(chat_server)).ok
    assert "Authorization" not in chat_server.requests[0]["headers"]


def test_a_refused_key_is_reported_without_quoting_it(
        chat_server: ChatServer, memory_keyring: MemoryKeyring, make_executor: Callable[[], Executor],
        caplog: pytest.LogCaptureFixture) -> None:
    store_api_key(chat_server.base_url, KEY)
    chat_server.status = 401
    chat_server.body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}."}}).encode()
    events: list[RunEvent] = []
    with caplog.at_level(logging.DEBUG):
        result = run_enhance(make_executor(), events, **over_http(chat_server))
    message = error_of(result)
    assert "refused the API key" in message and "401" in message
    assert f"{chat_server.base_url}/chat/completions" in message
    assert "Incorrect API key provided: [API key]" in message
    assert_key_nowhere(result, events, enhance_graph(**over_http(chat_server)), caplog)


def test_a_server_that_wants_a_key_when_none_is_stored_says_how_to_add_one(
        chat_server: ChatServer, memory_keyring: MemoryKeyring, make_executor: Callable[[], Executor]) -> None:
    chat_server.status = 401
    chat_server.body = b'{"error": "unauthorized"}'
    message = error_of(run_enhance(make_executor(), **over_http(chat_server)))
    assert "wants an API key" in message and "none is stored for " + chat_server.base_url in message
    assert f"keyring set reelgraph {chat_server.base_url}" in message


@pytest.mark.parametrize("status, body, headers, words", [
    (403, b'{"error": {"message": "forbidden"}}', {}, "refused the API key (403: forbidden)"),
    (404, b'{"error": {"message": "model tiny-chat not found"}}', {}, "check the base URL"),
    (429, b'{"error": {"message": "slow down"}}', {"Retry-After": "20"}, "wait 20 s"),
    (500, b"<html>oops</html>", {}, "failed (500); it is the server's problem"),
    (503, b'{"detail": "loading model"}', {}, "failed (503: loading model)"),
    (307, b"", {"Location": "https://elsewhere.example/v1/chat/completions"}, "redirects to https://elsewhere"),
    (400, b'{"error": {"message": "max_tokens too large"}}', {}, "rejected the request (400: max_tokens too large)"),
])
def test_server_errors_become_messages_a_creator_can_act_on(
        chat_server: ChatServer, memory_keyring: MemoryKeyring, make_executor: Callable[[], Executor],
        status: int, body: bytes, headers: dict[str, str], words: str) -> None:
    store_api_key(chat_server.base_url, KEY)
    chat_server.status, chat_server.body, chat_server.headers = status, body, headers
    message = error_of(run_enhance(make_executor(), **over_http(chat_server)))
    assert words in message and chat_server.base_url in message and KEY not in message


@pytest.mark.parametrize("body, words", [
    (b"this is not json {", "did not answer with JSON (it began 'this is not json {')"),
    (b'{"choices": []}', "not an OpenAI-style chat completion"),
    (b'{"error": {"message": "model is loading"}}', "not an OpenAI-style chat completion (no choices[0]."
                                                    "message.content): model is loading"),
    (json.dumps({"choices": [{"message": {"content": "   "}}]}).encode(), "wrote nothing usable"),
])
def test_an_answer_that_is_not_a_chat_completion_is_named(
        chat_server: ChatServer, make_executor: Callable[[], Executor], body: bytes, words: str) -> None:
    chat_server.body = body
    message = error_of(run_enhance(make_executor(), **over_http(chat_server)))
    assert words in message


def test_connection_refused_names_the_url(make_executor: Callable[[], Executor]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    result = run_enhance(make_executor(), backend="http", base_url=base_url, remote_model="m")
    message = error_of(result)
    assert f"cannot reach {base_url}/chat/completions: connection refused" in message


def test_a_server_that_hangs_up_is_named(chat_server: ChatServer, make_executor: Callable[[], Executor]) -> None:
    chat_server.status = 0
    message = error_of(run_enhance(make_executor(), **over_http(chat_server)))
    assert message.startswith(f"the server at {chat_server.base_url}/chat/completions broke off its answer")


def test_a_silent_server_times_out_with_words(chat_server: ChatServer,
                                              make_executor: Callable[[], Executor]) -> None:
    chat_server.delay = 5.0
    begun = time.perf_counter()
    message = error_of(run_enhance(make_executor(), **over_http(chat_server, timeout=1.0)))
    assert time.perf_counter() - begun < 4
    assert f"no answer from {chat_server.base_url}/chat/completions within 1 s" in message


def test_cancel_while_waiting_for_the_server_stops_at_once(chat_server: ChatServer,
                                                           make_executor: Callable[[], Executor]) -> None:
    chat_server.delay = 30.0
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    begun = time.perf_counter()
    result = run_enhance(make_executor(), cancel=cancel, **over_http(chat_server))
    assert time.perf_counter() - begun < 3
    assert result.cancelled and result.skipped["enhance"] == "cancelled while running"


def test_a_base_url_that_is_not_a_web_address_is_refused_before_the_run(
        make_executor: Callable[[], Executor]) -> None:
    with pytest.raises(WorkflowError, match="not a web address"):
        run_enhance(make_executor(), backend="http", base_url="localhost:11434", remote_model="m")
    with pytest.raises(WorkflowError, match="no base URL given"):
        run_enhance(make_executor(), backend="http", base_url="", remote_model="m")
    left_out = run_enhance(make_executor(), backend="http", remote_model="m")  # it might have come by a link
    assert error_of(left_out).startswith("no base URL given; type the server's, e.g. http://localhost:11434/v1")


# ----- the credential store -----------------------------------------------------------------------
def test_with_a_keyring_the_key_lives_there_and_nowhere_else(memory_keyring: MemoryKeyring) -> None:
    assert store_api_key("HTTPS://API.Example.com/v1/", KEY) == "the OS keyring"
    assert memory_keyring.entries == {(SERVICE, "https://api.example.com/v1"): KEY}
    assert api_key_for("https://api.example.com/v1") == KEY
    assert api_key_for("https://other.example.com/v1") is None
    assert not key_file().exists()
    forget_api_key("https://api.example.com/v1")
    assert api_key_for("https://api.example.com/v1") is None


def test_without_a_keyring_the_key_goes_to_a_file_only_its_owner_can_read(
        no_keyring: None, caplog: pytest.LogCaptureFixture, private_home: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="reelgraph.credentials"):
        where = store_api_key("https://api.example.com/v1", KEY)
    assert where == str(private_home / "api_keys.json")
    assert "keyring cannot store" in caplog.text and str(private_home / "api_keys.json") in caplog.text
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reelgraph.credentials"):
        assert api_key_for("https://api.example.com/v1/") == KEY
    assert "no usable OS keyring" in caplog.text and ENVIRONMENT_VARIABLE in caplog.text
    assert api_key_for("https://other.example.com/v1") is None
    assert KEY not in caplog.text


def test_without_a_keyring_the_environment_variable_comes_before_the_file(
        no_keyring: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store_api_key("https://api.example.com/v1", "key-in-the-file")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, KEY)
    monkeypatch.setenv(ENVIRONMENT_URL_VARIABLE, "https://api.example.com/v1")
    with caplog.at_level(logging.WARNING, logger="reelgraph.credentials"):
        assert api_key_for("https://api.example.com/v1") == KEY
    assert f"from the environment variable {ENVIRONMENT_VARIABLE}" in caplog.text
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    assert api_key_for("https://api.example.com/v1") == "key-in-the-file"


def test_an_environment_key_pinned_to_one_url_is_not_offered_to_another(
        no_keyring: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, KEY)
    monkeypatch.setenv(ENVIRONMENT_URL_VARIABLE, "https://api.example.com/v1/")
    assert api_key_for("https://api.example.com/v1") == KEY
    assert api_key_for("https://collector.example.net/v1") is None


def test_an_environment_key_without_a_pinned_url_is_offered_to_nobody(
        no_keyring: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, KEY)
    monkeypatch.delenv(ENVIRONMENT_URL_VARIABLE, raising=False)
    with caplog.at_level(logging.WARNING, logger="reelgraph.credentials"):
        assert api_key_for("https://collector.example.net/v1") is None
    assert ENVIRONMENT_URL_VARIABLE in caplog.text and KEY not in caplog.text


def test_a_key_file_others_can_read_is_still_used_but_flagged(
        no_keyring: None, caplog: pytest.LogCaptureFixture) -> None:
    path = Path(store_api_key("https://api.example.com/v1", KEY))
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="reelgraph.credentials"):
        assert api_key_for("https://api.example.com/v1") == KEY
    if os.name == "posix":
        assert "can be read by other users" in caplog.text and "chmod 600" in caplog.text


def test_the_node_finds_a_key_from_the_file_fallback(
        no_keyring: None, chat_server: ChatServer, make_executor: Callable[[], Executor],
        caplog: pytest.LogCaptureFixture) -> None:
    store_api_key(chat_server.base_url, KEY)
    events: list[RunEvent] = []
    result = run_enhance(make_executor(), events, **over_http(chat_server))
    assert result.ok, result.errors
    assert chat_server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert_key_nowhere(result, events, enhance_graph(**over_http(chat_server)), caplog)
