"""Send to timeline as a creator uses it: run a workflow, send the title card it made to
the timeline, see a clip exactly as long as the card, take it back with one Ctrl+Z, send
it again and export the project: the stored graph is computed again for the file.

Real graphs on the real Executor, the real ProjectDocument and a real export."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from desktop.timeline_document import ProjectDocument
from desktop.timeline_sending import send_output_to_timeline, sendable_outputs
from gpu.executor import Executor
from gpu.timeline_render import ExportPreset, render_project
from nodes.graph import Graph
from nodes.media_files import probe, read_frames, write_audio_file
from nodes.registry import builtin_registry
from nodes.timeline import GraphSource, Project, Timeline
from nodes.timeline_edits import STILL_LENGTH, TimelineEditRefused
from nodes.types import Audio, Video

TINY = ExportPreset("tiny", 64, 36, 10.0, 18, "ultrafast")
NAVY = (11, 29, 46)


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    with Executor(builtin_registry(), output_dir=tmp_path / "graph-output", cpu_workers=2, previews=False) as running:
        yield running


@pytest.fixture
def document(tmp_path: Path, qtbot: Any) -> ProjectDocument:
    """An empty project, as File ▸ New makes it."""
    return ProjectDocument(Project(Timeline(fps=10.0, width=64, height=36), name="Pilot", folder=tmp_path),
                           registry=builtin_registry())


def title_workflow() -> Graph:
    """The workflow in the graph editor: a 1.5 s navy title card and a solid still."""
    graph = Graph()
    graph.add("video.TitleCard", {"text": "Pilot", "width": 64, "height": 36, "duration": 1.5, "fps": 10.0,
                                  "font_size": 12, "background": "#0b1d2e", "fade_in": 0.0, "fade_out": 0.0},
              node_id="title", title="Opening title")
    graph.add("image.Solid", {"width": 16, "height": 9, "color": "#e63946"}, node_id="red")
    return graph


def outputs_of(executor: Executor, graph: Graph) -> dict[str, dict[str, Any]]:
    result = executor.run(graph, list(graph.nodes))
    assert not result.errors
    return result.outputs


def test_sending_a_video_adds_one_clip_as_long_as_the_video_and_one_undo_takes_it_back(
        document: ProjectDocument, executor: Executor) -> None:
    workflow = title_workflow()
    card = outputs_of(executor, workflow)["title"]["video"]
    assert isinstance(card, Video) and card.frames.shape[0] == 15

    clip_id = send_output_to_timeline(document, workflow, "title", "video", card)

    timeline = document.project.timeline
    assert [track.kind for track in timeline.video_tracks] == ["video"] and timeline.audio_tracks == []
    track, clip = document.find_clip(clip_id)
    assert track is timeline.video_tracks[0] and [item.id for item in track.clips] == [clip_id]
    assert clip.source == GraphSource("graph1", "title", "video") and clip.start == 0.0
    assert clip.source_out == pytest.approx(1.5) and document.clip_length(clip_id) == pytest.approx(1.5)
    assert clip.name == "Opening title · video"
    assert list(document.project.graphs) == ["graph1"]
    assert document.project.graphs["graph1"] is not workflow  # a snapshot: later edits stay in the editor
    assert document.undo_stack.count() == 1 and document.modified

    document.undo_stack.undo()  # Ctrl+Z
    assert list(document.project.timeline.clips()) == [] and document.project.graphs == {}
    assert document.project.timeline.video_tracks == [] and not document.modified
    document.undo_stack.redo()
    assert document.find_clip(clip_id)[1].source.graph == "graph1" and "graph1" in document.project.graphs


def test_a_sent_clip_is_computed_again_when_the_project_is_exported(document: ProjectDocument, executor: Executor,
                                                                     tmp_path: Path) -> None:
    workflow = title_workflow()
    values = outputs_of(executor, workflow)
    send_output_to_timeline(document, workflow, "title", "video", values["title"]["video"])
    still = send_output_to_timeline(document, workflow, "red", "image", values["red"]["image"])
    assert list(document.project.graphs) == ["graph1"]  # one stored workflow: the export runs it once
    assert document.find_clip(still)[1].start == pytest.approx(1.5)
    assert document.clip_length(still) == STILL_LENGTH
    document.save(tmp_path / "pilot.json")

    with Executor(builtin_registry(), output_dir=tmp_path / "fresh", cpu_workers=2, previews=False) as fresh:
        result = render_project(Project.load(tmp_path / "pilot.json"), TINY, tmp_path / "pilot.mp4", executor=fresh)
    assert result.ok and probe(result.path).frame_count == 65  # 1.5 s of card + 5 s of still at 10 fps
    frames = list(read_frames(result.path))
    assert np.allclose(frames[0][2, 2], NAVY, atol=12)  # the card's background, computed by the export
    assert np.allclose(frames[40][18, 32], (230, 57, 70), atol=12)


def test_changed_workflow_is_stored_anew_but_a_moved_node_is_the_same_workflow(
        document: ProjectDocument, executor: Executor) -> None:
    workflow = title_workflow()
    card = outputs_of(executor, workflow)["title"]["video"]
    send_output_to_timeline(document, workflow, "title", "video", card)
    workflow.nodes["title"].pos = [400, 80]
    send_output_to_timeline(document, workflow, "title", "video", card)
    assert list(document.project.graphs) == ["graph1"]
    workflow.nodes["title"].inputs["text"] = "Pilot, take two"
    changed = send_output_to_timeline(document, workflow, "title", "video", card, graph_id="pilot")
    assert list(document.project.graphs) == ["graph1", "pilot"]
    assert document.find_clip(changed)[1].source.graph == "pilot"
    assert document.project.graphs["graph1"].nodes["title"].inputs["text"] == "Pilot"
    assert [clip.start for clip in document.project.timeline.video_tracks[0].clips] == \
        pytest.approx([0.0, 1.5, 3.0])


def test_sound_goes_on_an_audio_track_of_the_chosen_kind(document: ProjectDocument, executor: Executor,
                                                         tmp_path: Path) -> None:
    times = np.arange(2 * 8000) / 8000
    write_audio_file(tmp_path / "knock.wav",
                     Audio((0.3 * np.sin(2 * np.pi * 300 * times)).astype(np.float32)[None], 8000), "wav")
    workflow = Graph()
    workflow.add("audio.Load", {"path": str(tmp_path / "knock.wav")}, node_id="knock")
    sound = outputs_of(executor, workflow)["knock"]["audio"]

    effect = send_output_to_timeline(document, workflow, "knock", "audio", sound)
    voice = send_output_to_timeline(document, workflow, "knock", "audio", sound, at=1.0, audio_kind="voice")

    kinds = {track.id: track.kind for track in document.project.timeline.audio_tracks}
    assert sorted(kinds.values()) == ["effects", "voice"] and document.project.timeline.video_tracks == []
    assert kinds[document.find_clip(effect)[0].id] == "effects"
    assert kinds[document.find_clip(voice)[0].id] == "voice"
    assert document.clip_length(effect) == pytest.approx(2.0) and document.find_clip(voice)[1].start == 1.0
    assert document.undo_stack.count() == 2


def test_sending_over_a_clip_takes_a_free_track(document: ProjectDocument, executor: Executor) -> None:
    workflow = title_workflow()
    card = outputs_of(executor, workflow)["title"]["video"]
    first = send_output_to_timeline(document, workflow, "title", "video", card)
    over = send_output_to_timeline(document, workflow, "title", "video", card, at=0.5)
    after = send_output_to_timeline(document, workflow, "title", "video", card, at=1.5)
    tracks = document.project.timeline.video_tracks
    assert len(tracks) == 2
    assert document.find_clip(first)[0] is tracks[0] and document.find_clip(after)[0] is tracks[0]
    assert document.find_clip(over)[0] is tracks[1] and document.find_clip(over)[1].start == 0.5


def test_nothing_to_send_changes_nothing(document: ProjectDocument) -> None:
    workflow = title_workflow()
    with pytest.raises(TimelineEditRefused, match="run the graph first"):
        send_output_to_timeline(document, workflow, "title", "video", None)
    with pytest.raises(TimelineEditRefused, match="before 0 s"):
        send_output_to_timeline(document, workflow, "red", "image", np.zeros((9, 16, 3), np.uint8), at=-1.0)
    assert document.undo_stack.count() == 0 and document.project.graphs == {}
    assert document.project.timeline.video_tracks == []


def test_sendable_outputs_lists_what_a_timeline_plays() -> None:
    registry = builtin_registry()
    graph = title_workflow()
    graph.add("video.Load", {"path": "walk.mp4"}, node_id="walk")
    graph.add("image.Solid", {}, node_id="plain")
    assert sendable_outputs(registry, graph, "title") == [("video", "VIDEO")]
    assert sendable_outputs(registry, graph, "walk") == [("video", "VIDEO"), ("audio", "AUDIO")]
    assert sendable_outputs(registry, graph, "plain") == [("image", "IMAGE")]
    graph.add("no.SuchNode", {}, node_id="ghost")
    assert sendable_outputs(registry, graph, "ghost") == []


def test_a_refused_send_leaves_no_track_no_graph_and_nothing_to_redo(document: ProjectDocument,
                                                                     executor: Executor) -> None:
    workflow = title_workflow()
    card = outputs_of(executor, workflow)["title"]["video"]
    workflow.add("audio.Load", {"path": "voice.wav"}, node_id="voice")
    # a picture handed in under a sound output: the document refuses a sound on a video track
    with pytest.raises(TimelineEditRefused):
        send_output_to_timeline(document, workflow, "voice", "audio", card)
    assert document.undo_stack.count() == 0 and not document.undo_stack.canRedo()
    assert document.project.graphs == {} and document.project.timeline.video_tracks == []


def test_a_sent_picture_can_be_trimmed_longer_but_a_video_stops_at_its_end(document: ProjectDocument,
                                                                          executor: Executor) -> None:
    workflow = title_workflow()
    values = outputs_of(executor, workflow)
    card = send_output_to_timeline(document, workflow, "title", "video", values["title"]["video"])
    still = send_output_to_timeline(document, workflow, "red", "image", values["red"]["image"])
    document.trim_clip(card, "end", 4.0)
    assert document.clip_end(card) == pytest.approx(1.5)  # the card has 1.5 s of frames, no more
    document.trim_clip(still, "end", 12.0)
    assert document.clip_end(still) == pytest.approx(12.0)


def test_a_pinned_picture_lands_at_the_playhead_as_one_undo_step(tmp_path, qtbot):
    from PIL import Image

    from desktop.timeline_document import ProjectDocument
    from desktop.timeline_sending import send_picture_to_timeline
    from nodes.timeline import ImageSource, Project, Timeline, Track

    picture = tmp_path / "pin.png"
    Image.new("RGB", (32, 32), (10, 200, 90)).save(picture)
    document = ProjectDocument(Project(Timeline(video_tracks=[Track("V1")]), folder=tmp_path))
    clip_id = send_picture_to_timeline(document, picture, at=2.0)
    track, clip = document.find_clip(clip_id)
    assert track.id == "V1" and clip.start == 2.0 and isinstance(clip.source, ImageSource)
    assert document.clip_length(clip_id) == 5.0 and clip.name == "pin"
    second = send_picture_to_timeline(document, picture, at=3.0)  # V1 is busy there: a new track
    assert document.find_clip(second)[0].id != "V1"
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert list(document.project.timeline.clips()) == []
