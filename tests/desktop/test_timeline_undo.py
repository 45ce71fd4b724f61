"""A creator cuts an episode on the timeline — adds clips from real files, moves them
between tracks, trims, splits, ripple-deletes — then undoes every step back to the
project as opened, redoes it all, saves and reopens. Every edit is one undo step, a
refused edit leaves the history alone, and lengths come from the files themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from desktop.timeline_document import DEFAULT_UNKNOWN_LENGTH, ProjectDocument
from nodes.graph import Graph
from nodes.media_files import VideoWriter, write_audio_file
from nodes.registry import builtin_registry
from nodes.timeline import (
    FileSource, GraphSource, ImageSource, Project, ProjectError, Timeline, Track, Transition,
)
from nodes.timeline_edits import TimelineEditRefused
from nodes.timeline_validation import timing_problems, validate_project
from nodes.types import Audio

RATE = 8000


def write_video(path: Path, seconds: float, fps: float = 10.0, sound: bool = True) -> Path:
    """A small H.264 file whose frames brighten as it plays, with a quiet tone when ``sound``."""
    frames = round(seconds * fps)
    with VideoWriter(path, 64, 36, fps, preset="ultrafast", audio_rate=RATE if sound else None,
                     audio_channels=1) as writer:
        for number in range(frames):
            writer.write_frame(np.full((36, 64, 3), 4 * number, np.uint8))
        if sound:
            times = np.arange(round(seconds * RATE)) / RATE
            writer.write_audio((0.2 * np.sin(2 * np.pi * 330 * times)).astype(np.float32)[None], RATE)
    return path


@pytest.fixture
def episode_folder(tmp_path: Path) -> Path:
    """The media of a short episode: a walk with sound, a silent sky shot, a voice, a title still."""
    write_video(tmp_path / "walk.mp4", 2.0)
    write_video(tmp_path / "sky.mp4", 3.0, sound=False)
    times = np.arange(4 * RATE) / RATE
    write_audio_file(tmp_path / "voice.wav", Audio((0.3 * np.sin(2 * np.pi * 220 * times)).astype(np.float32)[None],
                                                   RATE))
    Image.fromarray(np.full((36, 64, 3), 200, np.uint8)).save(tmp_path / "title.png")
    return tmp_path


@pytest.fixture
def opened(episode_folder: Path, qtbot: Any) -> ProjectDocument:
    """The episode's project as saved earlier: one video, one overlay and one voice track, the sky shot on V1."""
    project = Project(Timeline(fps=10.0, width=64, height=36, video_tracks=[Track("V1"), Track("V2")],
                               audio_tracks=[Track("A1", "voice")]), name="Episode 1", folder=episode_folder)
    document = ProjectDocument()
    document.replace(project)
    document.add_clip("V1", FileSource("sky.mp4"), 0.0, name="Sky")
    document.save(episode_folder / "episode.reelgraph.json")
    document.open(episode_folder / "episode.reelgraph.json")
    return document


def test_a_creators_edits_undo_to_the_opened_project_and_redo_to_the_cut(opened: ProjectDocument, qtbot: Any) -> None:
    document = opened
    original = document.project.to_dict()
    assert not document.modified and document.undo_stack.count() == 0
    assert document.clip_length("clip-1") == pytest.approx(3.0, abs=0.05)  # read from the file

    walk = document.add_clip("V1", FileSource("walk.mp4"), 3.0, name="Walk")
    title = document.add_clip("V1", ImageSource("title.png"), 5.0, name="Title")
    voice = document.add_clip("A1", FileSource("voice.wav"), 0.0, name="Voice")
    assert document.clip_length(walk) == pytest.approx(2.0, abs=0.05)
    assert document.clip_length(title) == 5.0  # a still without an out point shows for five seconds
    assert document.duration() == pytest.approx(10.0, abs=0.05)

    document.move_clips({title: (1.0, "V2")})
    document.trim_clip(walk, "end", 4.5)
    document.trim_clip(walk, "start", 3.5)
    right_voice = document.split_clip(voice, 1.5)
    document.delete_clips(["clip-1"], ripple=True)
    document.set_clip(right_voice, fade_out=0.5)
    document.add_marker(2.0, "walk starts")

    _, walked = document.find_clip(walk)
    assert (walked.start, walked.source_in, walked.source_out) == pytest.approx((0.5, 0.5, 1.5))  # sky's 3 s closed
    assert document.find_clip(title)[1].start == 1.0 and document.find_clip(title)[0].id == "V2"
    assert [clip.start for clip in document.track("A1").clips] == [0.0, 1.5]  # the voice did not ripple
    assert document.undo_stack.count() == 10
    assert document.modified
    assert validate_project(document.project) == []
    cut = document.project.to_dict()

    changes: list[None] = []
    document.changed.connect(lambda: changes.append(None))
    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    assert document.project.to_dict() == original
    assert len(changes) == 10 and not document.modified

    while document.undo_stack.canRedo():
        document.undo_stack.redo()
    assert document.project.to_dict() == cut
    assert [document.undo_stack.text(index) for index in range(4)] == ["Add clip"] * 3 + ["Move clip"]


def test_a_saved_cut_reopens_as_the_same_document(opened: ProjectDocument, episode_folder: Path) -> None:
    opened.add_clip("V1", FileSource("walk.mp4"), 3.0)
    opened.split_clip("clip-2", 4.0)
    target = opened.save(episode_folder / "episode-cut.json")
    assert not opened.modified and opened.path == target

    reopened = ProjectDocument()
    reopened.open(target)
    assert reopened.project.to_dict() == opened.project.to_dict()
    assert reopened.clip_length("clip-3") == pytest.approx(1.0, abs=0.05)

    opened.undo_stack.undo()
    assert opened.modified
    opened.undo_stack.redo()
    assert not opened.modified  # back at the saved state

    (episode_folder / "broken.json").write_text("{not json")
    with pytest.raises(ProjectError):
        reopened.open(episode_folder / "broken.json")
    assert reopened.path == target  # the project on screen stays


def test_a_refused_edit_leaves_the_project_and_the_undo_history_alone(opened: ProjectDocument) -> None:
    document = opened
    walk = document.add_clip("V1", FileSource("walk.mp4"), 3.0)
    before, steps = document.project.to_dict(), document.undo_stack.count()
    refusals = [
        (lambda: document.move_clips({walk: (1.0, "V1")}), f"Clip '{walk}' would overlap 'clip-1' on track V1"),
        (lambda: document.add_clip("A1", ImageSource("title.png"), 0.0), "cannot go on audio track A1"),
        (lambda: document.add_clip("V2", FileSource("voice.wav"), 0.0), "only sound"),
        (lambda: document.move_clips({"clip-1": (0.0, "A1")}), "cannot go on audio track A1"),  # sky has no sound
        (lambda: document.split_clip(walk, 9.0), "not inside clip"),
        (lambda: document.set_clip(walk, speed=20.0), "speed of clip .* at most 16"),
        (lambda: document.set_clip(walk, transition_out={"kind": "crossfade", "duration": 1}), "cannot close"),
        (lambda: document.add_clip("V9", FileSource("walk.mp4"), 0.0), "no track 'V9'"),
        (lambda: document.add_marker(-1.0), "before 0 s"),
    ]
    for edit, message in refusals:
        with pytest.raises(TimelineEditRefused, match=message):
            edit()
        assert document.project.to_dict() == before
        assert document.undo_stack.count() == steps
    document.trim_clip(walk, "start", 0.0)  # a trim that cannot move (the file starts there) is no step
    assert document.undo_stack.count() == steps


def test_lengths_come_from_files_graphs_and_a_default_for_what_cannot_be_read(opened: ProjectDocument,
                                                                              episode_folder: Path) -> None:
    document = opened
    (episode_folder / "broken.mp4").write_bytes(b"this is not a video")
    broken = document.add_clip("V2", FileSource("broken.mp4"), 0.0)
    missing = document.add_clip("V2", FileSource("gone.mp4"), 10.0)
    assert document.clip_length(broken) == DEFAULT_UNKNOWN_LENGTH
    assert document.clip_length(missing) == DEFAULT_UNKNOWN_LENGTH and document.source_length(missing) is None

    write_video(episode_folder / "gone.mp4", 1.0)  # the file turns up: it is probed afresh
    assert document.clip_length(missing) == pytest.approx(1.0, abs=0.05)
    write_video(episode_folder / "gone.mp4", 2.5)  # and re-rendered longer
    assert document.clip_length(missing) == pytest.approx(2.5, abs=0.05)

    graph = Graph()
    node = graph.add("video.TitleCard", {"text": "Hi", "width": 64, "height": 36, "duration": 1.0, "fps": 10.0})
    document.project.graphs["titles"] = graph
    card = document.add_clip("V1", GraphSource("titles", node, "video"), 20.0)
    assert document.clip_length(card) == DEFAULT_UNKNOWN_LENGTH
    changes: list[None] = []
    document.changed.connect(lambda: changes.append(None))
    document.set_known_lengths({card: 1.0})
    assert document.clip_length(card) == 1.0 and changes == [None]
    assert document.clip_end(card) == 21.0 and 21.0 in document.snap_points()


def test_a_graphs_sound_only_goes_on_audio_tracks_when_the_document_knows_the_nodes(qtbot: Any) -> None:
    graph = Graph()
    node = graph.add("audio.TextToSpeech", {"text": "Once upon a time"})
    project = Project(Timeline(video_tracks=[Track("V1")], audio_tracks=[Track("A1", "music")]), {"sound": graph})
    document = ProjectDocument(project, registry=builtin_registry())
    with pytest.raises(TimelineEditRefused, match="only sound"):
        document.add_clip("V1", GraphSource("sound", node, "audio"), 0.0)
    assert document.add_clip("A1", GraphSource("sound", node, "audio"), 0.0) == "clip-1"
    assert document.add_track("video") == "V2" and document.add_track("effects") == "A2"
    assert [track.id for track in document.project.timeline.tracks()] == ["V1", "V2", "A1", "A2"]
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert [track.id for track in document.project.timeline.tracks()] == ["V1", "A1"]


def test_a_stored_graph_stays_while_a_clip_shows_it_and_leaves_with_undo(qtbot: Any) -> None:
    document = ProjectDocument(Project(Timeline(video_tracks=[Track("V1")])))
    graph = Graph.loads('{"format": "reelgraph.workflow", "version": 1, "nodes": {"1": {"type": "image.Solid", '
                        '"inputs": {"width": 64, "height": 64, "color": "#ff0000"}}}}')
    graph_id = document.add_graph(graph)
    assert graph_id == "graph1" and document.add_graph(graph, "graph1") == "graph12"
    clip_id = document.add_clip("V1", GraphSource(graph_id, "1", "image"), 0.0, source_out=2.0)
    with pytest.raises(TimelineEditRefused, match=clip_id):
        document.remove_graph(graph_id)
    document.delete_clips([clip_id])
    document.remove_graph(graph_id)
    assert graph_id not in document.project.graphs
    for _ in range(4):
        document.undo_stack.undo()
    assert list(document.project.graphs) == [graph_id]
    assert document.project.graphs[graph_id].to_dict() == graph.to_dict()


def test_muting_a_track_is_one_undo_step_and_bad_values_are_refused(qtbot: Any) -> None:
    document = ProjectDocument(Project(Timeline(video_tracks=[Track("V1")], audio_tracks=[Track("A1", "music")])))
    document.set_track("A1", muted=True)
    document.set_track("A1", name="Score", gain_db=-6.0)
    assert document.track("A1").muted and document.track("A1").name == "Score"
    assert document.undo_stack.text(0) == "Mute track" and document.undo_stack.count() == 2
    with pytest.raises(TimelineEditRefused):
        document.set_track("V1", gain_db=3.0)
    with pytest.raises(TimelineEditRefused):
        document.set_track("V1", muted="yes")
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert not document.track("A1").muted and document.track("A1").name == "" and document.track("A1").gain_db == 0


EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "projects" / "example.json"


def test_a_voice_line_not_computed_yet_is_cut_without_losing_its_end(qtbot: Any) -> None:
    """The example's narrator lines are graph outputs with no out point: until the voice is
    computed they are drawn five seconds long, a guess that must never be saved as their end."""
    document = ProjectDocument(registry=builtin_registry())
    document.open(EXAMPLE)
    assert document.clip_length("line1") == DEFAULT_UNKNOWN_LENGTH and document.clip_end("line1") == 9.0

    right = document.split_clip("line1", 6.0)
    _, left_part = document.find_clip("line1")
    _, right_part = document.find_clip(right)
    assert (left_part.source_out, right_part.source_in, right_part.source_out) == (2.0, 2.0, None)
    assert document.clip_end(right) == 9.0  # the two parts are drawn as the whole was
    document.set_known_lengths({"line1": 7.0})  # the player computed the line: 7 s
    assert document.source_length(right) == 7.0  # both parts show that source
    assert document.clip_length("line1") + document.clip_length(right) == pytest.approx(7.0)

    document.undo_stack.undo()
    document.trim_clip("line2", "start", 10.75)
    document.set_clip("line2", speed=2.0)
    _, line2 = document.find_clip("line2")
    assert (line2.source_in, line2.source_out, line2.speed) == (1.0, None, 2.0)
    assert json_clip(document, "line2")["out"] is None  # what a save would write


def json_clip(document: ProjectDocument, clip_id: str) -> dict[str, Any]:
    """The clip as the project file would hold it."""
    for track in document.project.to_dict()["timeline"]["audio_tracks"]:
        for clip in track["clips"]:
            if clip["id"] == clip_id:
                return clip
    raise KeyError(clip_id)


def test_a_known_length_belongs_to_its_source_not_to_a_clip_id_used_again(episode_folder: Path, qtbot: Any) -> None:
    graph = Graph()
    node = graph.add("audio.TextToSpeech", {"text": "Once upon a time"})
    project = Project(Timeline(fps=10.0, audio_tracks=[Track("A1", "voice")]), {"voice": graph}, folder=episode_folder)
    document = ProjectDocument(project)
    line = document.add_clip("A1", GraphSource("voice", node, "audio"), 0.0)
    document.set_known_lengths({line: 10.0})
    assert document.clip_length(line) == 10.0
    document.delete_clips([line])
    reused = document.add_clip("A1", FileSource("voice.wav"), 0.0)
    assert reused == line  # the freed id is given again ...
    assert document.source_length(reused) == pytest.approx(4.0, abs=0.05)  # ... but not the line's length
    document.set_known_lengths({"gone": 3.0})  # a clip the player saw that is no longer there: ignored
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.clip_length(line) == 10.0  # the line is back, and so is what was learned about it


def test_deleting_the_clip_a_crossfade_blends_from_removes_the_crossfade_in_the_same_step(qtbot: Any) -> None:
    document = ProjectDocument(Project(Timeline(fps=10.0, video_tracks=[Track("V1")])))
    dawn = document.add_clip("V1", ImageSource("/nowhere/dawn.png"), 0.0, source_out=5.0)
    harbour = document.add_clip("V1", ImageSource("/nowhere/harbour.png"), 5.0, source_out=5.0)
    document.set_clip(harbour, transition_in={"kind": "crossfade", "duration": 1.0})
    assert document.find_clip(harbour)[1].start == 4.0  # slid onto dawn for the crossfade
    steps = document.undo_stack.count()

    document.delete_clips([dawn], ripple=True)
    _, moved = document.find_clip(harbour)
    assert (moved.start, moved.transition_in) == (0.0, None)
    assert not list(timing_problems(document.track("V1"), document.lengths(), 10.0))
    assert document.undo_stack.count() == steps + 1
    document.undo_stack.undo()
    _, back = document.find_clip(harbour)
    assert (back.start, back.transition_in) == (4.0, Transition("crossfade", 1.0))


def test_the_first_save_of_a_new_project_keeps_its_undo_history(tmp_path: Path, qtbot: Any) -> None:
    document = ProjectDocument()  # File ▸ New: not saved anywhere yet
    resets: list[None] = []
    document.reset.connect(lambda: resets.append(None))
    track = document.add_track("video")
    document.add_clip(track, ImageSource(str(tmp_path / "title.png")), 0.0)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()

    document.save(tmp_path / "one" / "episode.json")
    assert document.undo_stack.count() == 2 and document.undo_stack.canUndo() and not document.modified
    assert document.project.folder == (tmp_path / "one").resolve() and resets == []
    document.add_clip(track, ImageSource(str(tmp_path / "title.png")), 6.0)
    document.save(tmp_path / "two" / "copy.json")  # only absolute paths: nothing to rewrite
    assert document.undo_stack.count() == 3 and resets == []

    document.add_clip(track, ImageSource("../title.png"), 12.0)  # relative to folder two
    document.save(tmp_path / "copy.json")  # from here it reads differently: rewritten, history starts afresh
    assert resets == [None] and document.undo_stack.count() == 0
    assert document.find_clip("clip-3")[1].source.path == "title.png"
    assert Project.load(tmp_path / "copy.json").to_dict() == document.project.to_dict()
