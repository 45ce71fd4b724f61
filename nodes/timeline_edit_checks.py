"""What the timeline edits check before they change anything, by validation's own
rule (``nodes.timeline_validation.timing_problems``), so the editor never makes a
track the export refuses: overlaps that are not an exact crossfade, and crossfades
with nothing to blend from.

Also the arithmetic of ripple deletes (the gap a removed clip leaves is only the time
no kept clip still covers) and of splits (never inside a transition or a fade).
"""

from __future__ import annotations

import copy
from typing import Iterable, Mapping

from nodes.timeline import CROSSFADE, Clip, Timeline, Track
from nodes.timeline_validation import timing_problems

OVERLAP, ORPHAN_CROSSFADE = "overlap", "crossfade-without-overlap"

#: (earlier clip id or None, clip id, validation's code)
Fault = tuple[str | None, str, str]


class TimelineEditRefused(ValueError):
    """An edit that cannot be made; the message is the sentence shown to the creator."""


def timing_faults(track: Track, lengths: Mapping[str, float], fps: float) -> set[Fault]:
    """Every timing problem validation finds on ``track``, as (earlier id, clip id, code).
    A crossfade without overlap is keyed without its earlier clip: it is the same fault
    whichever clip happens to come before."""
    return {(earlier if problem.code == OVERLAP else None, clip_id, problem.code)
            for earlier, clip_id, problem in timing_problems(track, lengths, fps)}


def bad_overlaps(track: Track, lengths: Mapping[str, float], fps: float) -> set[tuple[str | None, str]]:
    """(earlier clip id or None, later clip id) for each overlap or crossfade validation
    rejects on ``track``: any overlap but a crossfade of exactly its length, no longer than
    the earlier clip, and any crossfade that does not overlap a clip before it."""
    return {(earlier, clip_id) for earlier, clip_id, _ in timing_faults(track, lengths, fps)}


def check_tracks(timeline: Timeline, new_lists: Mapping[str, list[Clip]], lengths: Mapping[str, float],
                 edited: set[str], old_lengths: Mapping[str, float] | None = None) -> None:
    """Refuse when the new clip lists would add a timing problem validation rejects
    (ones a loaded file already had are left alone)."""
    for track_id, clips in new_lists.items():
        track = find_track_or_refuse(timeline, track_id)
        before = timing_faults(track, old_lengths if old_lengths is not None else lengths, timeline.fps)
        after = timing_faults(Track(track.id, track.kind, clips=clips), lengths, timeline.fps)
        for earlier, later, code in sorted(after - before, key=lambda fault: (fault[2], fault[1], fault[0] or "")):
            clip = next(item for item in clips if item.id == later)
            if code == ORPHAN_CROSSFADE:
                raise TimelineEditRefused(
                    f"Clip {later!r} would no longer overlap a clip before it on track {track.id}, and its "
                    "crossfade needs one to blend from: remove the crossfade first, or keep the clips overlapping.")
            mover, other = (later, earlier) if later in edited or earlier not in edited else (earlier, later)
            fade = clip.transition_in if clip.transition_in is not None and clip.transition_in.kind == CROSSFADE \
                else None
            reason = f" by other than the {fade.duration:g} s crossfade of {later!r}" if fade is not None else ""
            raise TimelineEditRefused(f"Clip {mover!r} would overlap {other!r} on track {track.id}{reason}.")


def drop_orphan_crossfades(timeline: Timeline, new_lists: dict[str, list[Clip]],
                           lengths: Mapping[str, float]) -> None:
    """Take away the crossfade of every clip in ``new_lists`` that lost the clip it blended
    from (it was deleted or moved away, or this clip moved off it): a crossfade with nothing
    under it is refused by the export, and no clip is there to blend from any more."""
    for track_id, clips in new_lists.items():
        track = find_track_or_refuse(timeline, track_id)
        before = {clip_id for _, clip_id, code in timing_faults(track, lengths, timeline.fps) if code == ORPHAN_CROSSFADE}
        after = {clip_id for _, clip_id, code in timing_faults(Track(track.id, track.kind, clips=clips), lengths,
                                                                 timeline.fps) if code == ORPHAN_CROSSFADE}
        orphans = after - before
        for index, clip in enumerate(clips):
            if clip.id in orphans:
                changed = copy.copy(clip)
                changed.transition_in = None
                clips[index] = changed


def ripple_gaps(removed: list[Clip], kept: list[Clip], lengths: Mapping[str, float]) -> list[tuple[float, float]]:
    """The time removed clips leave empty: what they covered, less what a kept clip still
    covers (the clip a removed one crossfaded from still plays through the crossfade)."""
    gaps = union([(clip.start, clip.start + lengths.get(clip.id, 0.0)) for clip in removed])
    for begin, end in union([(clip.start, clip.start + lengths.get(clip.id, 0.0)) for clip in kept]):
        gaps = [piece for gap_begin, gap_end in gaps
                for piece in ((gap_begin, min(gap_end, begin)), (max(gap_begin, end), gap_end))
                if piece[1] > piece[0]]
    return gaps


def shift_before(time: float, gaps: Iterable[tuple[float, float]]) -> float:
    """How much empty time of ``gaps`` lies before ``time``."""
    return sum(max(0.0, min(end, time) - begin) for begin, end in gaps)


def split_refusal(track: Track, clip: Clip, time: float, length: float, lengths: Mapping[str, float],
                  fps: float) -> str | None:
    """Why ``clip`` cannot be cut at ``time``, or None: a cut inside a transition or a fade
    (its own, or a later clip's crossfade from it) leaves a part shorter than what it plays."""
    tolerance = 0.5 / fps if fps > 0 else 0.5 / 24.0
    start, end = clip.start, clip.start + length
    spans: list[tuple[float, float, str]] = []
    if clip.transition_in is not None:
        spans.append((start, start + clip.transition_in.duration, clip.transition_in.kind.replace("_", " ")))
    if clip.transition_out is not None:
        spans.append((end - clip.transition_out.duration, end, clip.transition_out.kind.replace("_", " ")))
    if clip.fade_in > 0:
        spans.append((start, start + clip.fade_in, "fade in"))
    if clip.fade_out > 0:
        spans.append((end - clip.fade_out, end, "fade out"))
    for other in track.clips:
        crossfade = other.transition_in
        if other.id != clip.id and crossfade is not None and crossfade.kind == CROSSFADE \
                and start < other.start < end - tolerance:
            spans.append((other.start, end, f"crossfade into {other.id!r}"))
    for begin, finish, what in spans:
        if begin + tolerance < time < finish - tolerance:
            return (f"{time:.2f} s is inside the {what} of clip {(clip.name or clip.id)!r} ({begin:.2f}–{finish:.2f} s): "
                    "split it before or after that.")
    return None


def union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def find_track_or_refuse(timeline: Timeline, track_id: str) -> Track:
    for track in timeline.tracks():
        if track.id == track_id:
            return track
    raise TimelineEditRefused(f"There is no track {track_id!r}.")
