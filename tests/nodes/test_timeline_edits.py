"""The timeline edits a creator makes by hand — split, trim, move, ripple delete, snap —
as the pure functions the desktop's undo commands call: what each one shows on
screen afterwards, and that a refused edit leaves the timeline exactly as it was."""

from __future__ import annotations

import copy

import pytest

from nodes.timeline import Clip, FileSource, ImageSource, Marker, Project, Timeline, Track, Transition
from nodes.timeline_edits import (
    TimelineEditRefused, bad_overlaps, delete_clips, move_clips, new_clip_id, ripple_delete, set_clip_fields,
    snap_points, snap_time, split_clip, trim_clip,
)
from nodes.timeline_validation import validate_project

#: Source seconds of each file the made-up timeline uses.
SOURCE_LENGTHS = {"walk.mp4": 10.0, "talk.mp4": 8.0, "voice.wav": 6.0}
SOURCE_LENGTHS_BY_CLIP = {"walk": 10.0, "talk": 8.0, "voice": 6.0}


def made_up_timeline() -> Timeline:
    """V1: walk 0–4 s, talk 4–7 s (at double speed from 2 s), a gap, a title still 9–11 s;
    V2: an overlay 1–3 s; A1: a voice 0–6 s."""
    return Timeline(fps=24.0, video_tracks=[
        Track("V1", clips=[
            Clip("walk", FileSource("walk.mp4"), 0.0, 1.0, 5.0),
            Clip("talk", FileSource("talk.mp4"), 4.0, 2.0, 8.0, speed=2.0,
                 transition_out=Transition("fade_to_black", 0.5)),
            Clip("title", ImageSource("title.png"), 9.0, 0.0, 2.0),
        ]),
        Track("V2", clips=[Clip("overlay", ImageSource("logo.png"), 1.0, 0.0, 2.0)]),
    ], audio_tracks=[Track("A1", "voice", clips=[Clip("voice", FileSource("voice.wav"), 0.0)])],
        markers=[Marker(6.5, "beat")])


def lengths_of(timeline: Timeline) -> dict[str, float]:
    """Timeline seconds of each clip, as the document would supply them."""
    return {clip.id: clip.length(SOURCE_LENGTHS.get(getattr(clip.source, "path", ""))) or 0.0
            for _, clip in timeline.clips()}


def shown(timeline: Timeline, track_id: str, time: float) -> tuple[str, float] | None:
    """(source path, source second) on ``track_id`` at ``time``: what the creator sees there."""
    lengths = lengths_of(timeline)
    track = next(track for track in timeline.tracks() if track.id == track_id)
    for clip in track.clips:
        if clip.start <= time < clip.start + lengths[clip.id]:
            return clip.source.path, round(clip.source_time(time), 6)
    return None


def starts(timeline: Timeline, track_id: str) -> dict[str, float]:
    track = next(track for track in timeline.tracks() if track.id == track_id)
    return {clip.id: clip.start for clip in track.clips}


def test_a_split_clip_shows_the_same_pictures_in_two_parts() -> None:
    timeline = made_up_timeline()
    times = [step / 8 for step in range(0, 12 * 8)]
    before = [shown(timeline, "V1", time) for time in times]

    right = split_clip(timeline, "talk", 5.5, lengths_of(timeline))

    assert right not in ("walk", "talk", "title") and right.startswith("talk")
    assert [shown(timeline, "V1", time) for time in times] == before
    left_clip, right_clip = timeline.video_tracks[0].clips[1:3]
    assert (left_clip.id, right_clip.id) == ("talk", right)
    assert (left_clip.source_in, left_clip.source_out) == (2.0, 5.0)
    assert (right_clip.source_in, right_clip.source_out) == (5.0, 8.0)
    assert right_clip.speed == 2.0
    # the fade to black closes the clip, so it now closes the right part
    assert left_clip.transition_out is None and right_clip.transition_out == Transition("fade_to_black", 0.5)


def test_splitting_twice_gives_fresh_ids_and_a_split_outside_the_clip_is_refused() -> None:
    timeline = made_up_timeline()
    first = split_clip(timeline, "walk", 1.0, lengths_of(timeline))
    second = split_clip(timeline, first, 2.0, lengths_of(timeline))
    ids = [clip.id for _, clip in timeline.clips()]
    assert len(ids) == len(set(ids)) and first != second
    assert new_clip_id(timeline, "walk") not in ids
    unchanged = timeline.to_dict()
    with pytest.raises(TimelineEditRefused, match="not inside clip 'title'"):
        split_clip(timeline, "title", 8.0, lengths_of(timeline))
    assert timeline.to_dict() == unchanged


def test_trimming_the_start_keeps_the_pictures_in_place_at_the_clips_speed() -> None:
    timeline = made_up_timeline()
    before = shown(timeline, "V1", 6.0)
    trim_clip(timeline, "talk", "start", 5.0, lengths_of(timeline), SOURCE_LENGTHS["talk.mp4"])
    talk = timeline.video_tracks[0].clips[1]
    assert (talk.start, talk.source_in) == (5.0, 4.0)  # one timeline second at double speed = two source seconds
    assert shown(timeline, "V1", 6.0) == before
    assert shown(timeline, "V1", 4.5) is None


def test_a_start_trim_stops_at_the_first_second_of_the_source_and_before_the_other_edge() -> None:
    timeline = made_up_timeline()
    # talk starts 2 source seconds in at double speed: it can open at most 1 s earlier, where walk still is
    with pytest.raises(TimelineEditRefused, match="'talk' would overlap 'walk' on track V1"):
        trim_clip(timeline, "talk", "start", 0.0, lengths_of(timeline))
    delete_clips(timeline, ["walk"], lengths_of(timeline))
    trim_clip(timeline, "talk", "start", 0.0, lengths_of(timeline))
    talk = timeline.video_tracks[0].clips[0]
    assert (talk.start, talk.source_in) == (3.0, 0.0)
    trim_clip(timeline, "talk", "start", 99.0, lengths_of(timeline))
    talk = timeline.video_tracks[0].clips[0]
    assert talk.start + lengths_of(timeline)["talk"] == pytest.approx(7.0)  # the end stayed
    assert lengths_of(timeline)["talk"] == pytest.approx(1 / 24)  # one frame is left


def test_an_end_trim_sets_out_and_stops_at_the_end_of_the_source() -> None:
    timeline = made_up_timeline()
    trim_clip(timeline, "walk", "end", 3.0, lengths_of(timeline), SOURCE_LENGTHS["walk.mp4"])
    assert timeline.video_tracks[0].clips[0].source_out == 4.0
    trim_clip(timeline, "talk", "end", 20.0, lengths_of(timeline), SOURCE_LENGTHS["talk.mp4"])
    talk = timeline.video_tracks[0].clips[1]
    assert talk.source_out == 8.0  # the file ends there
    trim_clip(timeline, "voice", "end", 2.0, lengths_of(timeline), SOURCE_LENGTHS["voice.wav"])
    assert timeline.audio_tracks[0].clips[0].source_out == 2.0
    trim_clip(timeline, "voice", "end", -5.0, lengths_of(timeline), SOURCE_LENGTHS["voice.wav"])
    assert lengths_of(timeline)["voice"] == pytest.approx(1 / 24)


def test_a_still_can_be_stretched_either_way() -> None:
    timeline = made_up_timeline()
    trim_clip(timeline, "title", "start", 8.0, lengths_of(timeline))
    trim_clip(timeline, "title", "end", 14.0, lengths_of(timeline))
    title = timeline.video_tracks[0].clips[2]
    assert (title.start, title.source_in, title.source_out) == (8.0, 0.0, 6.0)


def test_ripple_delete_closes_the_gap_only_on_its_own_track() -> None:
    timeline = made_up_timeline()
    ripple_delete(timeline, ["walk"], lengths_of(timeline))
    assert starts(timeline, "V1") == {"talk": 0.0, "title": 5.0}
    assert starts(timeline, "V2") == {"overlay": 1.0}
    assert starts(timeline, "A1") == {"voice": 0.0}
    delete_clips(timeline, ["talk"], lengths_of(timeline))
    assert starts(timeline, "V1") == {"title": 5.0}  # a plain delete leaves the gap


def test_a_move_onto_another_clip_is_refused_and_changes_nothing() -> None:
    timeline = made_up_timeline()
    unchanged = copy.deepcopy(timeline.to_dict())
    with pytest.raises(TimelineEditRefused, match="Clip 'overlay' would overlap 'walk' on track V1"):
        move_clips(timeline, {"overlay": (2.0, "V1")}, lengths_of(timeline))
    with pytest.raises(TimelineEditRefused, match="cannot go on audio track A1"):
        move_clips(timeline, {"title": (12.0, "A1")}, lengths_of(timeline))
    with pytest.raises(TimelineEditRefused, match="before 0 s"):
        move_clips(timeline, {"walk": (-1.0, "V1")}, lengths_of(timeline))
    assert timeline.to_dict() == unchanged


def test_clips_move_between_tracks_in_one_go() -> None:
    timeline = made_up_timeline()
    move_clips(timeline, {"overlay": (7.0, "V1"), "walk": (0.5, "V2")}, lengths_of(timeline))
    assert starts(timeline, "V1") == {"talk": 4.0, "overlay": 7.0, "title": 9.0}  # kept in order of start
    assert starts(timeline, "V2") == {"walk": 0.5}
    assert not validate_project(Project(timeline), lengths=SOURCE_LENGTHS_BY_CLIP, facts={})


def test_a_crossfade_may_overlap_by_exactly_its_length() -> None:
    timeline = made_up_timeline()
    set_clip_fields(timeline, "talk", {"transition_in": {"kind": "crossfade", "duration": 1.0}}, lengths_of(timeline))
    move_clips(timeline, {"talk": (3.0, "V1")}, lengths_of(timeline))
    assert bad_overlaps(timeline.video_tracks[0], lengths_of(timeline), timeline.fps) == set()
    with pytest.raises(TimelineEditRefused, match="'talk' would overlap 'walk'"):
        move_clips(timeline, {"talk": (2.5, "V1")}, lengths_of(timeline))


def test_an_overlap_the_file_already_had_does_not_block_other_edits() -> None:
    timeline = made_up_timeline()
    timeline.video_tracks[0].clips[1].start = 3.5  # saved that way by hand
    move_clips(timeline, {"title": (10.0, "V1")}, lengths_of(timeline))
    assert starts(timeline, "V1")["title"] == 10.0


def test_a_speed_change_that_would_run_into_the_next_clip_is_refused() -> None:
    timeline = made_up_timeline()
    with pytest.raises(TimelineEditRefused, match="'walk' would overlap 'talk'"):
        set_clip_fields(timeline, "walk", {"speed": 0.5}, lengths_of(timeline))
    with pytest.raises(TimelineEditRefused, match="speed"):
        set_clip_fields(timeline, "walk", {"speed": 0}, lengths_of(timeline))
    set_clip_fields(timeline, "walk", {"speed": 2.0, "name": "Walk"}, lengths_of(timeline))
    assert lengths_of(timeline)["walk"] == 2.0 and timeline.video_tracks[0].clips[0].name == "Walk"


def test_an_edge_snaps_to_the_nearest_point_within_reach() -> None:
    timeline = made_up_timeline()
    points = snap_points(timeline, lengths_of(timeline), exclude=["talk"])
    assert points == [0.0, 1.0, 3.0, 4.0, 6.0, 6.5, 9.0, 11.0]
    assert snap_time(6.4, points, 0.2) == 6.5
    assert snap_time(6.2, points, 0.35) == 6.0  # both within reach: the nearest wins
    assert snap_time(7.5, points, 0.2) == 7.5
    assert snap_time(2.0, [], 1.0) == 2.0


# ----- crossfades, and clips whose length is not known yet -----------------------------------
def crossfaded_timeline() -> Timeline:
    """V1: dawn 0–5 s, harbour 4–9 s crossfading 1 s from dawn, night 9–12 s."""
    return Timeline(fps=24.0, video_tracks=[Track("V1", clips=[
        Clip("dawn", FileSource("dawn.mp4"), 0.0, 0.0, 5.0),
        Clip("harbour", FileSource("harbour.mp4"), 4.0, 0.0, 5.0, transition_in=Transition("crossfade", 1.0)),
        Clip("night", FileSource("night.mp4"), 9.0, 0.0, 3.0),
    ])])


def exported_problems(timeline: Timeline) -> list[str]:
    """What the export's validation says about the timeline (every source's length is known)."""
    lengths = {clip.id: clip.source_out for _, clip in timeline.clips()}
    return [problem.code for problem in validate_project(Project(timeline), lengths=lengths, facts={})]


def test_ripple_deleting_a_crossfaded_clip_closes_only_the_time_it_alone_covered() -> None:
    timeline = crossfaded_timeline()
    ripple_delete(timeline, ["harbour"], {"dawn": 5.0, "harbour": 5.0, "night": 3.0})
    assert starts(timeline, "V1") == {"dawn": 0.0, "night": 5.0}  # dawn still plays until 5 s
    assert exported_problems(timeline) == []


def test_deleting_the_clip_a_crossfade_blends_from_takes_the_crossfade_away() -> None:
    for ripple in (False, True):
        timeline = crossfaded_timeline()
        delete_clips(timeline, ["dawn"], {"dawn": 5.0, "harbour": 5.0, "night": 3.0}, ripple=ripple)
        harbour = timeline.video_tracks[0].clips[0]
        assert harbour.start == (0.0 if ripple else 4.0) and harbour.transition_in is None
        assert exported_problems(timeline) == []


def test_moving_a_crossfaded_clip_off_its_partner_takes_the_crossfade_away() -> None:
    timeline = crossfaded_timeline()
    move_clips(timeline, {"harbour": (14.0, "V1")}, {"dawn": 5.0, "harbour": 5.0, "night": 3.0})
    assert timeline.video_tracks[0].clips[-1].transition_in is None
    assert exported_problems(timeline) == []


def test_a_trim_that_would_leave_a_crossfade_with_nothing_under_it_is_refused() -> None:
    timeline = crossfaded_timeline()
    unchanged = timeline.to_dict()
    with pytest.raises(TimelineEditRefused, match="'dawn' would overlap 'harbour' on track V1 by other than the 1 s crossfade of 'harbour'"):
        trim_clip(timeline, "dawn", "end", 4.5, {"dawn": 5.0, "harbour": 5.0, "night": 3.0}, 5.0)
    with pytest.raises(TimelineEditRefused, match="'harbour' would no longer overlap a clip before it"):
        trim_clip(timeline, "dawn", "end", 3.0, {"dawn": 5.0, "harbour": 5.0, "night": 3.0}, 5.0)
    assert timeline.to_dict() == unchanged
    assert bad_overlaps(timeline.video_tracks[0], {"dawn": 4.0, "harbour": 5.0, "night": 3.0}, 24.0) == \
        {(None, "harbour")}  # what the export calls a crossfade without overlap


def test_a_split_inside_a_crossfade_is_refused_and_one_beside_it_stays_valid() -> None:
    timeline = crossfaded_timeline()
    lengths = {"dawn": 5.0, "harbour": 5.0, "night": 3.0}
    unchanged = timeline.to_dict()
    with pytest.raises(TimelineEditRefused, match=r"4.50 s is inside the crossfade into 'harbour' of clip 'dawn'"):
        split_clip(timeline, "dawn", 4.5, lengths)
    with pytest.raises(TimelineEditRefused, match=r"inside the crossfade of clip 'harbour' \(4.00–5.00 s\)"):
        split_clip(timeline, "harbour", 4.5, lengths)
    assert timeline.to_dict() == unchanged
    right = split_clip(timeline, "harbour", 5.0, lengths)  # just after the crossfade
    assert starts(timeline, "V1") == {"dawn": 0.0, "harbour": 4.0, right: 5.0, "night": 9.0}
    assert exported_problems(timeline) == []
    right = split_clip(timeline, "dawn", 4.0, {**lengths, "harbour": 1.0, right: 4.0})  # where harbour begins
    assert exported_problems(timeline) == []


def test_a_split_inside_a_fade_is_refused() -> None:
    timeline = made_up_timeline()
    with pytest.raises(TimelineEditRefused, match="inside the fade to black of clip 'talk'"):
        split_clip(timeline, "talk", 6.8, lengths_of(timeline))


def test_giving_a_clip_a_crossfade_slides_it_onto_the_clip_before() -> None:
    timeline = made_up_timeline()
    set_clip_fields(timeline, "talk", {"transition_in": {"kind": "crossfade", "duration": 0.5}}, lengths_of(timeline))
    assert starts(timeline, "V1")["talk"] == 3.5
    set_clip_fields(timeline, "talk", {"transition_in": Transition("crossfade", 1.0)}, lengths_of(timeline))
    assert starts(timeline, "V1")["talk"] == 3.0
    set_clip_fields(timeline, "talk", {"transition_in": None}, lengths_of(timeline))
    assert starts(timeline, "V1")["talk"] == 4.0  # back where walk ends
    with pytest.raises(TimelineEditRefused, match="'title' does not meet a clip before it"):
        set_clip_fields(timeline, "title", {"transition_in": Transition("crossfade", 1.0)}, lengths_of(timeline))
    assert not validate_project(Project(timeline), lengths=SOURCE_LENGTHS_BY_CLIP, facts={})


def test_a_clip_of_unknown_length_still_runs_to_its_sources_end_after_split_trim_and_speed() -> None:
    # a narrator's line from a graph, not computed yet: drawn 5 s as a guess
    timeline = Timeline(fps=24.0, audio_tracks=[Track("A1", "voice", clips=[
        Clip("line", FileSource("line.wav"), 4.0, 0.0, None)])])
    guess = {"line": 5.0}
    right = split_clip(timeline, "line", 6.0, guess)
    left_clip, right_clip = timeline.audio_tracks[0].clips
    assert (left_clip.source_in, left_clip.source_out) == (0.0, 2.0)
    assert (right_clip.source_in, right_clip.source_out) == (2.0, None)  # not cut at the guessed 5 s
    # the line turns out 7 s long: the two parts play all of it
    assert left_clip.length(7.0) + right_clip.length(7.0) == pytest.approx(7.0)
    trim_clip(timeline, right, "start", 7.0, {"line": 2.0, right: 3.0})
    assert (right_clip := timeline.audio_tracks[0].clips[1]).source_in == 3.0 and right_clip.source_out is None
    set_clip_fields(timeline, right, {"speed": 2.0}, {"line": 2.0, right: 2.0})
    assert timeline.audio_tracks[0].clips[1].source_out is None
