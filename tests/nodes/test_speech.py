"""audio.TextToSpeech: a creator types a line and hears it, in an espeak-ng voice
(offline, no download) or from a text-to-speech model in the models folder's tts/
(tiny random VITS, SpeechT5 and Bark models built here), and gives each character of
the story a voice kept in the voice library."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from gpu.events import NODE_PROGRESS, RunEvent, RunResult
from gpu.executor import Executor
from nodes import espeak_library
from nodes.context import Cancelled, CancelToken
from nodes.graph import Graph
from nodes.problems import WorkflowError
from nodes.registry import NodeRegistry
from nodes.speech_engines import SpeechJob, split_sentences, synthesize
from nodes.types import Audio
from nodes.voices import (
    FORMAT, VERSION, Voice, VoiceError, load_voice_library, save_character_voice, voice_library_path,
)

LINE = "The quick brown fox jumps over the lazy dog near the quiet river bank."
STORY = " ".join(f"This is sentence number {number} of a long story." for number in range(1, 31))


# ----- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def make_executor(registry: NodeRegistry, tmp_path: Path) -> Iterator[Callable[[], Executor]]:
    made: list[Executor] = []

    def make() -> Executor:
        made.append(Executor(registry, output_dir=tmp_path / "output", cpu_workers=2))
        return made[-1]

    yield make
    for executor in made:
        executor.close()


@pytest.fixture
def own_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own user data folder, so its voice library is its own."""
    home = tmp_path / "home"
    monkeypatch.setenv("REELGRAPH_HOME", str(home))
    return home / "voices.json"


def graph_of(nodes: dict[str, Any]) -> Graph:
    return Graph.from_dict({"format": "reelgraph.workflow", "version": 1, "groups": [], "meta": {}, "nodes": {
        node_id: {"inputs": {}, "title": "", "pos": [0, 0], "bypass": False, **node} for node_id, node in nodes.items()
    }})


def speech_graph(**inputs: Any) -> Graph:
    return graph_of({"say": {"type": "audio.TextToSpeech", "inputs": inputs}})


def speak(executor: Executor, on_event: Callable[[RunEvent], None] | None = None,
          cancel: CancelToken | None = None, **inputs: Any) -> RunResult:
    return executor.run(speech_graph(**inputs), ["say"], cancel=cancel, on_event=on_event)


def spoken(result: RunResult) -> Audio:
    assert result.ok, result.errors
    audio = result.output("say", "audio")
    assert isinstance(audio, Audio) and audio.channels == 1 and audio.samples.dtype == np.float32
    assert result.output("say", "duration") == pytest.approx(audio.duration)
    return audio


def failure(result: RunResult) -> str:
    assert not result.ok and "say" in result.errors, result
    return result.errors["say"].message


def loudness(audio: Audio) -> float:
    return float(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2)))


def fundamental(audio: Audio) -> float:
    """The median pitch (Hz) of the voiced parts, by autocorrelation."""
    samples = audio.samples[0].astype(np.float64)
    frame, pitches = 1024, []
    shortest, longest = audio.rate // 500, audio.rate // 40
    for start in range(0, samples.size - frame, 256):
        window = samples[start:start + frame]
        if np.sqrt(np.mean(window**2)) < 0.05:
            continue
        correlation = np.correlate(window, window, "full")[frame - 1:]
        lag = shortest + int(np.argmax(correlation[shortest:longest]))
        if correlation[lag] > 0.3 * correlation[0]:
            pitches.append(audio.rate / lag)
    return float(np.median(pitches))


# ----- espeak-ng -----------------------------------------------------------------------------------
def test_espeak_says_a_sentence_as_audible_speech_of_a_plausible_length(
        make_executor: Callable[[], Executor]) -> None:
    audio = spoken(speak(make_executor(), text=LINE))
    assert audio.rate == 22050
    assert 2.5 < audio.duration < 7.0  # fourteen words at about 175 a minute
    assert loudness(audio) > 0.03 and np.abs(audio.samples).max() <= 1.0


def test_a_faster_speed_says_the_same_line_in_less_time(make_executor: Callable[[], Executor]) -> None:
    executor = make_executor()
    normal = spoken(speak(executor, text=LINE)).duration
    fast = spoken(speak(executor, text=LINE, speed=2.0)).duration
    slow = spoken(speak(executor, text=LINE, speed=0.5)).duration
    assert fast < 0.6 * normal and slow > 1.7 * normal


def test_a_higher_pitch_moves_the_voice_up_the_spectrum(make_executor: Callable[[], Executor]) -> None:
    executor = make_executor()
    low = fundamental(spoken(speak(executor, text=LINE, pitch=-6.0)))
    natural = fundamental(spoken(speak(executor, text=LINE)))
    high = fundamental(spoken(speak(executor, text=LINE, pitch=6.0)))
    assert low < natural < high
    assert high / low > 1.6  # twelve semitones apart is an octave; espeak's melody narrows it a little


def test_different_voices_sound_different(make_executor: Callable[[], Executor]) -> None:
    executor = make_executor()
    voices = {voice: spoken(speak(executor, text="Hello, my friend. Welcome home.", voice=voice))
              for voice in ("en-us", "en-gb", "fr", "en-us+f3")}
    sounds = list(voices.values())
    for index, first in enumerate(sounds):
        for second in sounds[index + 1:]:
            assert first.samples.shape != second.samples.shape or not np.array_equal(first.samples, second.samples)
    assert fundamental(voices["en-us+f3"]) > 1.5 * fundamental(voices["en-us"])  # a female variant


def test_espeak_says_a_line_the_same_way_every_time() -> None:
    first = synthesize(LINE, Voice(voice="en-gb"))
    synthesize("Something else in between, to disturb any state left behind.", Voice(voice="fr", pitch=4))
    again = synthesize(LINE, Voice(voice="en-gb"))
    assert np.array_equal(first.samples, again.samples)


def test_two_threads_speaking_at_once_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = {"left": ("One thread speaks this line.", Voice(voice="en-us")),
             "right": ("Another thread speaks this other line at once.", Voice(voice="en-gb+f2", speed=1.3))}
    expected = {name: synthesize(text, voice).samples for name, (text, voice) in lines.items()}
    inside, most_inside = [0], [0]
    speak_alone = espeak_library.EspeakInstance.speak

    def counting_speak(self: Any, *arguments: Any, **keywords: Any) -> np.ndarray:
        inside[0] += 1
        most_inside[0] = max(most_inside[0], inside[0])
        time.sleep(0.002)  # widen the window another thread would have to barge in
        try:
            return speak_alone(self, *arguments, **keywords)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(espeak_library.EspeakInstance, "speak", counting_speak)
    heard: dict[str, list[np.ndarray]] = {name: [] for name in lines}
    failures: list[BaseException] = []

    def keep_speaking(name: str) -> None:
        try:
            for _ in range(6):
                heard[name].append(synthesize(*lines[name]).samples)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=keep_speaking, args=(name,)) for name in lines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures and most_inside[0] == 1
    for name, results in heard.items():
        assert len(results) == 6 and all(np.array_equal(result, expected[name]) for result in results)


def test_an_unknown_espeak_voice_is_named_before_the_run(make_executor: Callable[[], Executor]) -> None:
    with pytest.raises(WorkflowError, match="espeak has no voice 'en-uss'; did you mean en-us"):
        speak(make_executor(), text=LINE, voice="en-uss")
    with pytest.raises(WorkflowError, match="no voice variant 'f9'.*f1 to f5"):
        speak(make_executor(), text=LINE, voice="en-us+f9")


@pytest.mark.parametrize("text", ["", "   \n ", "... !?"])
def test_nothing_to_say_is_a_clear_error(make_executor: Callable[[], Executor], text: str) -> None:
    assert "there is no text to speak" in failure(speak(make_executor(), text=text))


def test_long_text_is_spoken_sentence_by_sentence_with_progress(make_executor: Callable[[], Executor]) -> None:
    events: list[RunEvent] = []
    audio = spoken(speak(make_executor(), events.append, text=STORY))
    steps = [event for event in events if event.kind == NODE_PROGRESS and (event.fraction or 0) > 0]
    assert [event.fraction for event in steps] == pytest.approx([number / 30 for number in range(1, 31)])
    assert steps[-1].message == "spoke sentence 30 of 30"
    assert audio.duration > 30


def test_cancelling_mid_story_stops_between_sentences(make_executor: Callable[[], Executor]) -> None:
    cancel = CancelToken()
    steps: list[RunEvent] = []

    def listen(event: RunEvent) -> None:
        if event.kind == NODE_PROGRESS and (event.fraction or 0) > 0:
            steps.append(event)
            if len(steps) == 3:
                cancel.cancel()

    result = speak(make_executor(), listen, cancel, text=STORY)
    assert result.cancelled and not result.errors
    assert result.skipped["say"] == "cancelled while running"
    assert 3 <= len(steps) <= 4  # at most the sentence under way when the cancel came


def test_espeak_stops_inside_a_sentence_when_cancelled() -> None:
    blocks = [0]

    def cancelled() -> bool:
        blocks[0] += 1
        return blocks[0] > 2

    with pytest.raises(Cancelled):
        synthesize(STORY.replace(".", ","), Voice(), SpeechJob(cancelled=cancelled))
    assert blocks[0] < 10  # one long sentence, abandoned after a few blocks of samples


def test_sentences_split_where_a_reader_would_pause() -> None:
    text = 'Mr. Smith went to Washington. He said: "Hello!" Then he left...\nA new line? Yes。中文句子！好'
    assert split_sentences(text, 1000) == [
        "Mr. Smith went to Washington.", 'He said: "Hello!"', "Then he left...", "A new line?", "Yes。",
        "中文句子！", "好"]
    long = "word " * 30 + "and then, after a pause, " + "more " * 30
    pieces = split_sentences(long, 100)
    assert all(len(piece) <= 100 for piece in pieces) and " ".join(pieces).split() == long.split()


def test_list_voices_names_espeak_languages(make_executor: Callable[[], Executor]) -> None:
    graph = graph_of({"list": {"type": "audio.ListVoices", "inputs": {}}})
    result = make_executor().run(graph, ["list"])
    voices = result.output("list", "voices").splitlines()
    assert "en-us (English (America))" in voices and len(voices) > 100


# ----- text-to-speech models -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def speech_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.tiny_speech_models import build_speech_models_folder

    return build_speech_models_folder(tmp_path_factory.mktemp("speech-models"))


@pytest.fixture
def models_here(speech_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REELGRAPH_MODELS", str(speech_models))
    return speech_models


MODELS = [("tiny-vits", "speaker 1", 16000), ("tiny-speecht5", "bob", 16000), ("tiny-bark", "narrator", 24000)]


@pytest.mark.parametrize(("model", "voice", "rate"), MODELS)
def test_a_model_from_the_models_folder_speaks_the_same_way_for_the_same_seed(
        models_here: Path, make_executor: Callable[[], Executor], model: str, voice: str, rate: int) -> None:
    line = {"text": "Hello there.", "engine": "transformers", "model": model, "voice": voice}
    first = spoken(speak(make_executor(), seed=7, **line))
    again = spoken(speak(make_executor(), seed=7, **line))  # a fresh executor: no cache, the model loaded anew
    other = spoken(speak(make_executor(), seed=8, **line))
    assert first.rate == rate and first.duration > 0.1 and loudness(first) > 1e-3
    assert np.array_equal(first.samples, again.samples)
    assert other.samples.shape != first.samples.shape or not np.array_equal(other.samples, first.samples)


def test_a_vits_model_changes_speed_and_speaker(models_here: Path, make_executor: Callable[[], Executor]) -> None:
    executor = make_executor()
    line = {"text": "Hello there, this is a test.", "engine": "transformers", "model": "tiny-vits", "seed": 1}
    normal = spoken(speak(executor, **line))
    fast = spoken(speak(executor, speed=2.0, **line))
    other_speaker = spoken(speak(executor, voice="1", **line))
    assert fast.duration < 0.8 * normal.duration
    assert not np.array_equal(normal.samples, other_speaker.samples)


def test_long_text_reaches_a_model_sentence_by_sentence(models_here: Path,
                                                        make_executor: Callable[[], Executor]) -> None:
    events: list[RunEvent] = []
    text = "Hello there. This is a test! Is it speech? Yes."
    audio = spoken(speak(make_executor(), events.append, text=text, engine="transformers", model="tiny-vits"))
    fractions = [event.fraction for event in events if event.kind == NODE_PROGRESS and (event.fraction or 0) > 0]
    assert fractions == pytest.approx([0.25, 0.5, 0.75, 1.0])
    singles = [spoken(speak(make_executor(), text=part, engine="transformers", model="tiny-vits", seed=index))
               for index, part in enumerate(split_sentences(text, 300))]
    pauses = 3 * int(0.2 * 16000)
    assert audio.samples.shape[1] == sum(single.samples.shape[1] for single in singles) + pauses


@pytest.mark.parametrize(("inputs", "complaint"), [
    ({"model": "tiny-speecht5", "speed": 1.5}, "SpeechT5 models speak at one speed"),
    ({"model": "tiny-vits", "pitch": 2.0}, "VITS / MMS models cannot change pitch"),
    ({"model": "tiny-bark", "voice": "hero"}, "no voice 'hero'; its voices: 'narrator', 'villain'"),
    ({"model": "tiny-vits", "voice": "speaker 5"}, "its voices: 'speaker 0', 'speaker 1'"),
    ({"model": "no-such-voice-model"}, "cannot find the speech_model 'no-such-voice-model'"),
    ({"model": ""}, "needs a text-to-speech model"),
])
def test_what_a_model_cannot_do_is_said_before_the_run(models_here: Path, make_executor: Callable[[], Executor],
                                                       inputs: dict[str, Any], complaint: str) -> None:
    with pytest.raises(WorkflowError, match=complaint.replace("(", r"\(").replace("?", r"\?")):
        speak(make_executor(), text="Hello.", engine="transformers", **inputs)


def test_list_voices_names_a_models_speakers(models_here: Path, make_executor: Callable[[], Executor]) -> None:
    graph = graph_of({"list": {"type": "audio.ListVoices",
                               "inputs": {"engine": "transformers", "model": "tiny-speecht5"}}})
    assert make_executor().run(graph, ["list"]).output("list", "voices") == "alice\nbob"


# ----- characters and the voice library ------------------------------------------------------------
def test_character_voices_survive_a_round_trip_through_the_library_file(own_library: Path) -> None:
    narrator = Voice(voice="en-gb", speed=1.1, pitch=-2.0)
    fox = Voice(engine="transformers", model="tiny-vits", voice="speaker 1", speed=1.2)
    save_character_voice("Narrator", narrator)
    save_character_voice("Fox", fox)
    save_character_voice("narrator", Voice(voice="en-gb", speed=1.1, pitch=-3.0))  # same character, new pitch
    assert voice_library_path() == own_library
    document = json.loads(own_library.read_text(encoding="utf-8"))
    assert document["format"] == FORMAT and document["version"] == VERSION
    library = load_voice_library()
    assert list(library) == ["Fox", "narrator"]
    assert library.voice_of("FOX") == fox
    assert library.voice_of("Narrator") == Voice(voice="en-gb", speed=1.1, pitch=-3.0)
    assert sorted(path.name for path in own_library.parent.iterdir()) == ["voices.json"]  # no temporary left


def test_a_character_speaks_with_the_voice_saved_for_them(own_library: Path,
                                                          make_executor: Callable[[], Executor]) -> None:
    save_character_voice("Narrator", Voice(voice="en-gb", speed=1.2, pitch=2.0))
    executor = make_executor()
    by_name = spoken(speak(executor, text=LINE, character="narrator", voice="fr", speed=0.5))
    by_settings = spoken(speak(executor, text=LINE, voice="en-gb", speed=1.2, pitch=2.0))
    assert np.array_equal(by_name.samples, by_settings.samples)
    assert spoken(speak(executor, text=LINE, character="narrator", voice="fr", speed=0.5)) is by_name  # cached
    save_character_voice("Narrator", Voice(voice="en-gb", speed=2.0))
    faster = spoken(speak(executor, text=LINE, character="narrator", voice="fr", speed=0.5))
    assert faster.duration < by_name.duration  # the library changed, so the line was spoken again


def test_an_unknown_character_is_refused_naming_the_known_ones(own_library: Path,
                                                               make_executor: Callable[[], Executor]) -> None:
    with pytest.raises(WorkflowError, match="the library has no characters yet"):
        speak(make_executor(), text=LINE, character="Wolf")
    save_character_voice("Narrator", Voice())
    save_character_voice("Fox", Voice(voice="en-us+f3"))
    with pytest.raises(WorkflowError, match="no character 'Wolf' in the voice library; known characters: 'Fox', "
                                            "'Narrator'"):
        speak(make_executor(), text=LINE, character="Wolf")
    with pytest.raises(VoiceError, match="known characters: 'Fox', 'Narrator'"):
        load_voice_library().voice_of("Wolf")


@pytest.mark.parametrize(("content", "complaint"), [
    ("{not json", "is damaged"),
    ('{"format": "reelgraph.voices", "version": 9, "characters": {}}', "written by a newer Reelgraph"),
    ('{"format": "something.else", "version": 1}', "is not a Reelgraph voice library"),
    ('{"format": "reelgraph.voices", "version": 1, "characters": {"Fox": {"engine": "espeak", "speed": 9}}}',
     "the voice of 'Fox': the speed 9 is outside 0.5 to 2.5"),
])
def test_a_damaged_library_is_a_clear_error(own_library: Path, content: str, complaint: str) -> None:
    own_library.parent.mkdir(parents=True)
    own_library.write_text(content, encoding="utf-8")
    with pytest.raises(VoiceError, match=complaint):
        load_voice_library()


def test_save_character_voice_feeds_text_to_speech(own_library: Path, make_executor: Callable[[], Executor]) -> None:
    graph = graph_of({
        "save": {"type": "audio.SaveCharacterVoice",
                 "inputs": {"character": "Owl", "voice": "en-gb+m3", "speed": 0.8, "pitch": -4.0}},
        "say": {"type": "audio.TextToSpeech",
                "inputs": {"text": "Who goes there?", "character": ["save", "character"]}},
    })
    result = make_executor().run(graph, ["save", "say"])
    assert result.ok, result.errors
    assert load_voice_library().voice_of("Owl") == Voice(voice="en-gb+m3", speed=0.8, pitch=-4.0)
    direct = synthesize("Who goes there?", Voice(voice="en-gb+m3", speed=0.8, pitch=-4.0))
    assert np.array_equal(result.output("say", "audio").samples, direct.samples)
    with pytest.raises(WorkflowError, match="no voice 'xx'"):
        make_executor().run(graph_of({
            "save": {"type": "audio.SaveCharacterVoice", "inputs": {"character": "Owl", "voice": "xx"}}}))
