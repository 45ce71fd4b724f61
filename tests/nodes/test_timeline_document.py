"""The project document: a timeline of clips from files, stills and graph outputs,
saved as plain JSON that survives a round trip, refuses what a newer Reelgraph
wrote, migrates what an older one did, and explains every problem by track and clip
with the fix."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import nodes.atomic_write
import nodes.timeline
from nodes.graph import Graph
from nodes.media_files import MediaInfo, write_audio_file
from nodes.timeline import Clip, FileSource, GraphSource, Project, ProjectError, Timeline, Track
from nodes.timeline_validation import validate_project
from nodes.types import Audio


def title_graph() -> dict[str, Any]:
    graph = Graph()
    graph.add("video.TitleCard", {"text": "Hello", "width": 64, "height": 36, "duration": 2.0, "fps": 24.0},
              node_id="card")
    graph.add("image.Solid", {"width": 8, "height": 8, "color": "#ff0000"}, node_id="still")
    return graph.to_dict()


def clip(clip_id: str, source: dict[str, Any], start: float, out: float | None, **more: Any) -> dict[str, Any]:
    return {"id": clip_id, "source": source, "start": start, "in": 0.0, "out": out, "speed": 1.0, **more}


def document(video: list[dict] | None = None, audio: list[dict] | None = None, **top: Any) -> dict[str, Any]:
    return {
        "format": "reelgraph.project", "version": 1, "name": "Episode 1",
        "graphs": {"titles": title_graph()},
        "timeline": {
            "fps": 24.0, "width": 1280, "height": 720,
            "video_tracks": [{"id": "V1", "clips": video or []}],
            "audio_tracks": [{"id": "A1", "kind": "voice", "clips": audio or []}],
            "markers": [{"time": 1.5, "name": "act one"}],
            "ducking": {"amount_db": 12.0, "attack": 0.25, "release": 0.5},
        },
        "meta": {},
        **top,
    }


@pytest.fixture
def still(tmp_path: Path) -> str:
    Image.fromarray(np.zeros((9, 16, 3), np.uint8)).save(tmp_path / "still.png")
    return "still.png"


@pytest.fixture
def episode(still: str) -> dict[str, Any]:
    return document(
        video=[clip("intro", {"graph": "titles", "node": "card", "output": "video"}, 0.0, 2.0,
                    transition_in={"kind": "fade_from_black", "duration": 0.5}),
               clip("sky", {"image": still}, 1.0, 3.0, transition_in={"kind": "crossfade", "duration": 1.0},
                    transition_out={"kind": "fade_to_black", "duration": 0.5}, fit="fill")],
        audio=[clip("line1", {"file": "voice.wav"}, 0.5, None, gain_db=-3.0, fade_in=0.1, fade_out=0.2)],
    )


def problems_of(project: Project, registry: Any = None, **options: Any) -> list[str]:
    return [str(problem) for problem in validate_project(project, registry, **options)]


# ----- the document ------------------------------------------------------------------------

def test_a_project_survives_open_and_save_unchanged(tmp_path: Path, episode: dict) -> None:
    path = Project.from_dict(copy.deepcopy(episode)).save(tmp_path / "episode.json")
    assert Project.load(path).to_dict() == episode
    assert json.loads(path.read_text(encoding="utf-8")) == episode


def test_clips_read_as_plain_dataclasses(tmp_path: Path, episode: dict) -> None:
    project = Project.from_dict(episode, folder=tmp_path)
    intro, sky = project.timeline.video_tracks[0].clips
    assert intro.source == GraphSource("titles", "card", "video")
    assert sky.transition_in.kind == "crossfade" and sky.transition_in.duration == 1.0
    assert sky.fit == "fill" and sky.length() == 3.0
    voice = project.timeline.audio_tracks[0]
    assert voice.kind == "voice" and voice.clips[0].source == FileSource("voice.wav")
    assert voice.clips[0].length() is None and voice.clips[0].length(4.0) == 4.0
    assert project.resolve("voice.wav") == tmp_path / "voice.wav"
    assert project.timeline.markers[0].name == "act one"


def test_speed_changes_how_long_a_clip_lasts_and_what_it_shows() -> None:
    fast = Clip("c", FileSource("a.mp4"), start=10.0, source_in=2.0, source_out=8.0, speed=2.0)
    assert fast.length() == 3.0
    assert fast.source_time(11.0) == 4.0


def test_keys_a_newer_version_wrote_are_kept(episode: dict) -> None:
    episode["timeline"]["video_tracks"][0]["clips"][0]["colour_grade"] = {"lut": "teal"}
    episode["timeline"]["video_tracks"][0]["locked"] = True
    episode["timeline"]["guides"] = [0.5]
    episode["cloud"] = {"budget": 2}
    assert Project.from_dict(copy.deepcopy(episode)).to_dict() == episode


def test_a_project_built_in_code_saves_as_the_documented_format(tmp_path: Path) -> None:
    project = Project(Timeline(fps=30.0, video_tracks=[Track("V1", clips=[Clip("a", FileSource("a.mp4"), 0.0)])]))
    saved = json.loads(project.dumps())
    assert saved["format"] == "reelgraph.project" and saved["version"] == 1
    assert saved["timeline"]["video_tracks"][0]["clips"][0] == {
        "id": "a", "source": {"file": "a.mp4"}, "start": 0.0, "in": 0.0, "out": None, "speed": 1.0}


def test_save_is_atomic_a_crash_keeps_the_old_file(tmp_path: Path, episode: dict,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = Project.from_dict(copy.deepcopy(episode)).save(tmp_path / "saved" / "episode.json")
    before = path.read_bytes()

    def power_cut(descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(nodes.atomic_write.os, "fsync", power_cut)
    episode["name"] = "changed"
    with pytest.raises(OSError):
        Project.from_dict(episode).save(path)
    assert path.read_bytes() == before
    assert [entry.name for entry in path.parent.iterdir()] == ["episode.json"]


# ----- versions ------------------------------------------------------------------------------

def test_a_newer_version_is_refused_with_the_fix(episode: dict) -> None:
    episode["version"] = 2
    with pytest.raises(ProjectError) as caught:
        Project.from_dict(episode, source="future.json")
    assert "newer Reelgraph" in str(caught.value) and str(caught.value).startswith("future.json: ")
    assert caught.value.problems[0].fix == "update Reelgraph to open it"


def test_an_older_version_is_migrated(monkeypatch: pytest.MonkeyPatch, episode: dict) -> None:
    old = copy.deepcopy(episode)
    old["version"] = 0
    for track in old["timeline"]["video_tracks"]:
        for item in track["clips"]:
            item["begin"] = item.pop("start")

    def from_version_0(document: dict) -> dict:
        for track in document["timeline"]["video_tracks"]:
            for item in track["clips"]:
                item["start"] = item.pop("begin")
        return document

    monkeypatch.setitem(nodes.timeline.MIGRATIONS, 0, from_version_0)
    assert Project.from_dict(old).to_dict() == episode


def test_a_version_never_written_is_refused(episode: dict) -> None:
    episode["version"] = -1
    with pytest.raises(ProjectError, match="not one Reelgraph ever wrote"):
        Project.from_dict(episode)


def test_a_workflow_is_not_a_project(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(title_graph()))
    with pytest.raises(ProjectError, match="this is a workflow"):
        Project.load(path)


def test_broken_json_and_missing_files_are_project_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"format": "reelgraph.project", ')
    with pytest.raises(ProjectError, match="not valid JSON"):
        Project.load(tmp_path / "broken.json")
    with pytest.raises(ProjectError, match="does not exist"):
        Project.load(tmp_path / "absent.json")


# ----- structural problems, all at once -------------------------------------------------------

def test_every_structural_problem_names_its_track_and_clip(episode: dict) -> None:
    clips = episode["timeline"]["video_tracks"][0]["clips"]
    clips[0]["source"] = {"file": "a.mp4", "image": "b.png"}
    clips[1]["transition_in"] = {"kind": "wipe", "duration": 1}
    clips[1]["start"] = "soon"
    episode["timeline"]["audio_tracks"][0]["kind"] = "dialogue"
    episode["timeline"]["video_tracks"].append({"clips": []})
    with pytest.raises(ProjectError) as caught:
        Project.from_dict(episode)
    found = [str(problem) for problem in caught.value.problems]
    assert any(text.startswith("track 'V1', clip 'intro': 'source' must name exactly one") for text in found)
    assert any("clip 'sky': 'transition_in' kind text 'wipe' is not one of crossfade, fade_from_black" in text
               for text in found)
    assert any("clip 'sky': 'start' must be a number" in text for text in found)
    assert any("track 'A1'" in text and "voice" in text for text in found)
    assert any("video track #2 has no 'id'" in text for text in found)


def test_a_broken_embedded_graph_names_the_graph(episode: dict) -> None:
    episode["graphs"]["titles"]["nodes"]["card"]["inputs"] = "nope"
    with pytest.raises(ProjectError, match="graph 'titles'"):
        Project.from_dict(episode)


# ----- validation -----------------------------------------------------------------------------

def fake_probe(duration: float, video: bool = True, audio: bool = True):
    def probe(path: str) -> MediaInfo:
        return MediaInfo(duration, 64 if video else 0, 36 if video else 0, 24.0 if video else 0.0,
                         int(duration * 24) if video else 0, "h264" if video else "", audio,
                         48000 if audio else 0, 2 if audio else 0, "aac" if audio else "")
    return probe


def project_in(tmp_path: Path, document: dict, *files: str) -> Project:
    for name in files:
        (tmp_path / name).write_bytes(b"media")
    return Project.from_dict(document, folder=tmp_path)


def test_a_good_project_has_no_problems(tmp_path: Path, episode: dict, registry: Any) -> None:
    project = project_in(tmp_path, episode, "voice.wav")
    assert problems_of(project, registry, probe=fake_probe(4.0, video=False)) == []


def test_an_overlap_on_one_track_names_both_clips_and_where_to_move(tmp_path: Path, still: str) -> None:
    project = project_in(tmp_path, document(video=[clip("a", {"image": still}, 0.0, 3.0),
                                                   clip("b", {"image": still}, 2.0, 2.0)]))
    assert problems_of(project) == [
        "track 'V1', clip 'b': overlaps clip 'a' by 1.000 s — fix: move it to start at 3.000 s, move it to "
        'another track, or give it a "transition_in": {"kind": "crossfade", "duration": 1.000}']


def test_a_crossfade_must_overlap_by_its_length(tmp_path: Path, still: str) -> None:
    def with_second_at(start: float) -> list[str]:
        return problems_of(project_in(tmp_path, document(video=[
            clip("a", {"image": still}, 0.0, 3.0),
            clip("b", {"image": still}, start, 2.0, transition_in={"kind": "crossfade", "duration": 1.0})])))

    assert with_second_at(2.0) == []
    assert with_second_at(2.5) == ["track 'V1', clip 'b': overlaps clip 'a' by 0.500 s but its crossfade lasts "
                                   "1 s — fix: start it at 2.000 s so the clips overlap for the crossfade"]
    assert with_second_at(3.0) == ["track 'V1', clip 'b': has a crossfade of 1 s but does not overlap clip 'a' "
                                   "— fix: start it at 2.000 s"]


def test_out_past_the_end_of_a_file_says_how_long_it_is(tmp_path: Path) -> None:
    project = project_in(tmp_path, document(video=[clip("a", {"file": "a.mp4"}, 0.0, 7.5)]), "a.mp4")
    assert problems_of(project, probe=fake_probe(5.0)) == [
        "track 'V1', clip 'a': 'out' 7.5 s is past the end of the source (5.000 s long) — fix: set 'out' to at "
        "most 5.000, or null for the end of the source"]


def test_the_length_of_a_real_file_is_read(tmp_path: Path) -> None:
    write_audio_file(tmp_path / "line.wav", Audio(np.zeros((1, 4800), np.float32), 48000))
    project = project_in(tmp_path, document(audio=[clip("a", {"file": "line.wav"}, 0.0, 0.2)]))
    assert problems_of(project) == ["track 'A1', clip 'a': 'out' 0.2 s is past the end of the source (0.100 s "
                                    "long) — fix: set 'out' to at most 0.100, or null for the end of the source"]


def test_missing_and_unreadable_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "noise.png").write_bytes(b"not a picture")
    project = project_in(tmp_path, document(video=[clip("a", {"file": "gone.mp4"}, 0.0, 1.0),
                                                   clip("b", {"image": "noise.png"}, 1.0, 1.0)]))
    found = problems_of(project)
    assert found[0].startswith(f"track 'V1', clip 'a': the file gone.mp4 does not exist (looked in {tmp_path})")
    assert found[1].startswith("track 'V1', clip 'b': cannot read the picture noise.png")


def test_damaged_and_empty_media_are_named_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "garbage.mp4").write_bytes(b"\x00\x01 this is not a video" * 40)
    (tmp_path / "empty.wav").write_bytes(b"")
    project = project_in(tmp_path, document(video=[clip("a", {"file": "garbage.mp4"}, 0.0, 1.0)],
                                            audio=[clip("b", {"file": "empty.wav"}, 0.0, 1.0)]))
    found = problems_of(project)
    assert found[0].startswith("track 'V1', clip 'a': cannot read garbage.mp4: ")
    assert "empty (0 bytes)" in found[1] and found[1].startswith("track 'A1', clip 'b': cannot read empty.wav")
    assert all("replace the file with one that plays, or remove the clip" in text for text in found)


def test_a_file_without_the_stream_its_track_needs(tmp_path: Path) -> None:
    project = project_in(tmp_path, document(video=[clip("a", {"file": "song.wav"}, 0.0, 1.0)]), "song.wav")
    assert problems_of(project, probe=fake_probe(3.0, video=False)) == [
        "track 'V1', clip 'a': song.wav has no pictures — fix: put it on an audio track instead"]


def test_graph_sources_must_name_a_graph_node_and_output_of_the_right_type(tmp_path: Path, registry: Any) -> None:
    project = project_in(tmp_path, document(
        video=[clip("a", {"graph": "missing", "node": "card", "output": "video"}, 0.0, 1.0),
               clip("b", {"graph": "titles", "node": "nine", "output": "video"}, 1.0, 1.0),
               clip("c", {"graph": "titles", "node": "card", "output": "frames"}, 2.0, 1.0)],
        audio=[clip("d", {"graph": "titles", "node": "still", "output": "image"}, 0.0, 1.0)]))
    found = problems_of(project, registry)
    assert found == [
        "track 'V1', clip 'a': its source names graph 'missing', which the project does not have — fix: use one "
        "of the project's graphs ('titles')",
        "track 'V1', clip 'b': its source names node 'nine', which graph 'titles' does not have — fix: use one "
        "of its nodes ('card', 'still')",
        "track 'V1', clip 'c': node 'card' (video.TitleCard) has no output 'frames' — fix: use one of its "
        "outputs: video",
        "track 'A1', clip 'd': output 'image' of node 'still' is IMAGE, which an audio track cannot play — fix: "
        "use an output of type AUDIO or VIDEO",
    ]


def test_a_graph_that_cannot_run_is_reported_with_its_id(tmp_path: Path, registry: Any) -> None:
    episode = document(video=[clip("a", {"graph": "titles", "node": "card", "output": "video"}, 0.0, 1.0)])
    episode["graphs"]["titles"]["nodes"]["card"]["inputs"]["duration"] = -4.0
    found = problems_of(project_in(tmp_path, episode), registry)
    assert len(found) == 1 and found[0].startswith("graph 'titles': node 'card' (video.TitleCard), input 'duration'")


def test_clip_values_that_cannot_play(tmp_path: Path, still: str) -> None:
    project = project_in(tmp_path, document(
        video=[clip("a", {"image": still}, -1.0, None, speed=0.0),
               clip("a", {"image": still}, 5.0, 1.0, transition_out={"kind": "fade_to_black", "duration": 3.0})],
        audio=[clip("s", {"image": still}, 0.0, 1.0, fade_in=0.8, fade_out=0.8)]))
    found = problems_of(project)
    assert "track 'V1', clip 'a': starts at -1 s, before the timeline begins — fix: set 'start' to 0 or later" in found
    assert any("speed 0 is out of range" in text for text in found)
    assert any("a still has no length of its own" in text for text in found)
    assert any("clip id 'a' is also used on track 'V1'" in text for text in found)
    assert any("its transitions last 3 s but the clip lasts only 1.000 s" in text for text in found)
    assert any("clip 's': a still image (still.png) cannot play on an audio track" in text for text in found)
    assert any("clip 's': fade_in + fade_out (1.6 s) is longer than the clip" in text for text in found)


def test_lengths_known_after_graphs_run_are_checked_too(tmp_path: Path, registry: Any) -> None:
    graph_clip = {"graph": "titles", "node": "card", "output": "video"}
    project = project_in(tmp_path, document(video=[clip("a", graph_clip, 0.0, None),
                                                   clip("b", graph_clip, 1.0, 1.0)]))
    assert problems_of(project, registry) == []  # the card's length is not known before it runs
    assert problems_of(project, registry, lengths={"a": 2.0, "b": 2.0}) == [
        "track 'V1', clip 'b': overlaps clip 'a' by 1.000 s — fix: move it to start at 2.000 s, move it to "
        'another track, or give it a "transition_in": {"kind": "crossfade", "duration": 1.000}']


def test_out_past_the_end_of_a_graph_output_is_found_once_it_has_run(tmp_path: Path, registry: Any) -> None:
    project = project_in(tmp_path, document(video=[
        clip("a", {"graph": "titles", "node": "card", "output": "video"}, 0.0, 3.0)]))
    assert problems_of(project, registry) == []
    assert problems_of(project, registry, lengths={"a": 2.0}) == [
        "track 'V1', clip 'a': 'out' 3 s is past the end of the source (2.000 s long) — fix: set 'out' to at most "
        "2.000, or null for the end of the source"]


def test_a_rate_of_zero_is_reported_not_replaced(tmp_path: Path, still: str) -> None:
    episode = document(video=[clip("a", {"image": still}, 0.0, 1.0)])
    episode["timeline"]["fps"] = 0
    assert problems_of(project_in(tmp_path, episode)) == [
        "project: the timeline's fps 0 is out of range — fix: use a rate between 1 and 240, such as 24 or 30"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6, allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
CLIP_KEYS = ["id", "source", "start", "in", "out", "speed", "transition_in", "transition_out", "fit", "gain_db",
             "fade_in", "fade_out"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(CLIP_KEYS + ["kind", "muted", "fps", "width", "markers", "ducking", "graphs"]),
       value=JSON_VALUES)
def test_any_value_in_any_field_gives_a_report_never_a_crash(tmp_path: Path, episode: dict, registry: Any,
                                                             key: str, value: Any) -> None:
    broken = copy.deepcopy(episode)
    if key in CLIP_KEYS:
        broken["timeline"]["video_tracks"][0]["clips"][1][key] = value
    elif key in ("kind", "muted"):
        broken["timeline"]["audio_tracks"][0][key] = value
    elif key == "graphs":
        broken["graphs"]["titles"] = value
    else:
        broken["timeline"][key] = value
    try:
        project = Project.from_dict(broken, folder=tmp_path)
    except ProjectError as error:
        assert error.problems and all(str(problem) for problem in error.problems)
        return
    assert all(isinstance(str(problem), str) for problem in validate_project(project, registry))
    assert Project.from_dict(json.loads(project.dumps()), folder=tmp_path).to_dict() == project.to_dict()
