"""Timeline edits as plain functions: move, trim, split, delete (ripple or not), add,
change a clip, snap. The desktop's undoable commands call these, the tests call them
without Qt, and a future CLI could too.

Every edit changes ``timeline`` in place, but only after it has checked everything:
when it cannot be done it raises :class:`TimelineEditRefused` with a sentence for the
creator and the timeline is exactly as it was. An edit is refused when it would make
an overlap that ``nodes.timeline_validation`` rejects (clips on one track may overlap
only by the length of the later clip's crossfade), or put a source on a track that
cannot play it. Overlaps a loaded file already had are left alone: an edit is only
refused for the ones it would add.

``lengths`` maps clip id -> timeline seconds as shown now (the document knows the
sources' lengths; these functions never read files). A clip whose ``out`` is null
runs to the end of its source, and keeps doing so through every edit: its shown
length may be only a placeholder (a graph output not computed yet), so writing it
down as an ``out`` would cut the source short once its real length is known.

The checks are validation's own (``timing_problems``): an edit never makes a track
that the export would refuse. Deleting or moving a clip that another clip crossfaded
from takes that crossfade away (in the same edit), since it has nothing to blend from.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Iterable, Mapping

from nodes.timeline import (
    CROSSFADE, MAX_SPEED, TRANSITIONS_IN, TRANSITIONS_OUT, Clip, ImageSource, Timeline, Track, Transition,
)
from nodes.timeline_edit_checks import (
    TimelineEditRefused, bad_overlaps, check_tracks, drop_orphan_crossfades, ripple_gaps, shift_before,
    split_refusal, timing_faults,
)

#: Where a source may go: a picture only on video tracks, sound only on audio tracks.
PICTURE, SOUND, EITHER = "picture", "sound", "either"
#: How long a still lasts when it is added without an ``out``.
STILL_LENGTH = 5.0
#: Fields :func:`set_clip_fields` changes.
CLIP_FIELDS = ("name", "gain_db", "fade_in", "fade_out", "speed", "transition_in", "transition_out", "fit")
EPSILON = 1e-9

Placement = Callable[[Clip], str]

__all__ = ["TimelineEditRefused", "bad_overlaps", "timing_faults"]  # re-exported for the document and tests


# ----- reading ------------------------------------------------------------------------------
def find_clip(timeline: Timeline, clip_id: str) -> tuple[Track, Clip]:
    """The track holding ``clip_id`` and the clip; KeyError when no track has it."""
    for track, clip in timeline.clips():
        if clip.id == clip_id:
            return track, clip
    raise KeyError(clip_id)


def find_track(timeline: Timeline, track_id: str) -> Track:
    for track in timeline.tracks():
        if track.id == track_id:
            return track
    raise KeyError(track_id)


def source_end(clip: Clip, length: float) -> float:
    """The source second where the clip stops showing its source."""
    return clip.source_out if clip.source_out is not None else clip.source_in + length * clip.speed


def default_placement(clip: Clip) -> str:
    """Where a clip may go when nothing more is known: stills on video tracks, the rest anywhere."""
    return PICTURE if isinstance(clip.source, ImageSource) else EITHER


def new_clip_id(timeline: Timeline, base: str = "clip") -> str:
    """A clip id no clip of ``timeline`` has: ``base-2``, ``base-3`` ... (``base`` without a trailing number)."""
    taken = {clip.id for _, clip in timeline.clips()}
    stem = re.sub(r"-\d+$", "", base) or "clip"
    number = 1
    while f"{stem}-{number}" in taken:
        number += 1
    return f"{stem}-{number}"


def new_track_id(timeline: Timeline, audio: bool) -> str:
    """V1, V2 ... for video tracks, A1, A2 ... for audio tracks, never one already used."""
    taken = {track.id for track in timeline.tracks()}
    letter, number = ("A" if audio else "V"), 1
    while f"{letter}{number}" in taken:
        number += 1
    return f"{letter}{number}"


def snap_time(time: float, points: Iterable[float], threshold: float) -> float:
    """The point nearest ``time`` when it is within ``threshold`` seconds, else ``time`` itself."""
    nearest = min(points, key=lambda point: abs(point - time), default=None)
    return nearest if nearest is not None and abs(nearest - time) <= threshold else time


def snap_points(timeline: Timeline, lengths: Mapping[str, float], exclude: Iterable[str] = ()) -> list[float]:
    """Times an edge may snap to: 0, every clip's start and end (but those of ``exclude``), the markers."""
    skipped = set(exclude)
    points = {0.0}
    for _, clip in timeline.clips():
        if clip.id not in skipped:
            points.add(clip.start)
            points.add(clip.start + lengths.get(clip.id, 0.0))
    points.update(marker.time for marker in timeline.markers)
    return sorted(points)


# ----- edits --------------------------------------------------------------------------------
def add_clip(timeline: Timeline, track_id: str, clip: Clip, lengths: Mapping[str, float],
             placement: Placement = default_placement) -> None:
    """Put ``clip`` on a track (kept in order of start); ``lengths`` must hold its length too."""
    track = _track(timeline, track_id)
    if any(other.id == clip.id for _, other in timeline.clips()):
        raise TimelineEditRefused(f"There is already a clip called {clip.id!r}.")
    if clip.start < 0:
        raise TimelineEditRefused(f"Clip {_label(clip)} cannot start before 0 s.")
    if isinstance(clip.source, ImageSource) and clip.source_out is None:
        raise TimelineEditRefused(f"The still {clip.source.path} needs an out point to have a length.")
    _check_placement(clip, track, placement)
    clips = [*track.clips, clip]
    check_tracks(timeline, {track.id: clips}, lengths, {clip.id})
    track.clips = _in_order(clips, clip)


def move_clips(timeline: Timeline, moves: Mapping[str, tuple[float, str]], lengths: Mapping[str, float],
               placement: Placement = default_placement) -> None:
    """Move clips to new starts and tracks (clip id -> (start, track id)), all or none."""
    located = {clip_id: find_clip(timeline, clip_id) for clip_id in moves}
    new_lists = {track.id: list(track.clips) for track, _ in located.values()}
    moved: dict[str, Clip] = {}
    for clip_id, (start, track_id) in moves.items():
        track, clip = located[clip_id]
        target = _track(timeline, track_id)
        if start < -EPSILON:
            raise TimelineEditRefused(f"Clip {_label(clip)} cannot start before 0 s.")
        _check_placement(clip, target, placement)
        new_lists.setdefault(target.id, list(target.clips))
        changed = copy.copy(clip)
        changed.start = max(0.0, float(start))
        moved[clip_id] = changed
        index = next(i for i, item in enumerate(new_lists[track.id]) if item.id == clip_id)
        if target.id == track.id:
            new_lists[track.id][index] = changed
        else:
            del new_lists[track.id][index]
    for clip_id, (_, track_id) in moves.items():
        if located[clip_id][0].id != track_id:
            new_lists[track_id] = _in_order([*new_lists[track_id], moved[clip_id]], moved[clip_id])
    drop_orphan_crossfades(timeline, new_lists, lengths)
    check_tracks(timeline, new_lists, lengths, set(moves))
    _replace(timeline, new_lists)


def trim_clip(timeline: Timeline, clip_id: str, edge: str, time: float, lengths: Mapping[str, float],
              source_length: float | None = None) -> None:
    """Move a clip's start or end edge to timeline second ``time``.

    The start edge takes the source with it (``in`` moves by the change × speed), so
    the pictures stay where they were on the timeline; it stops at the source's
    first second and at the timeline's 0. The end edge sets ``out`` and stops at the
    source's end when ``source_length`` is known. Neither edge passes the other
    (a clip keeps at least one frame). A still has no source position: trimming it
    only changes how long it shows."""
    track, clip = find_clip(timeline, clip_id)
    if not 0 < clip.speed <= MAX_SPEED:
        raise TimelineEditRefused(f"Clip {_label(clip)} has a speed of {clip.speed:g}: set a speed above 0 "
                                  "before trimming it.")
    length = lengths.get(clip_id, 0.0)
    end, frame = clip.start + length, 1.0 / timeline.fps if timeline.fps > 0 else 1.0 / 24.0
    still = isinstance(clip.source, ImageSource)
    changed = copy.copy(clip)
    if edge == "start":
        earliest = 0.0 if still else max(0.0, clip.start - clip.source_in / clip.speed)
        new_start = min(max(float(time), earliest), end - min(frame, length))
        changed.start = new_start
        if still:
            changed.source_out = clip.source_in + (end - new_start) * clip.speed
        else:
            changed.source_in = max(0.0, clip.source_in + (new_start - clip.start) * clip.speed)
        new_length = end - new_start
    elif edge == "end":
        new_end = float(time)
        if source_length is not None and not still:
            new_end = min(new_end, clip.start + (source_length - clip.source_in) / clip.speed)
        new_end = max(new_end, clip.start + min(frame, length))
        changed.source_out = clip.source_in + (new_end - clip.start) * clip.speed
        if clip.source_out is None and source_length is not None and changed.source_out >= source_length - EPSILON:
            changed.source_out = None  # still to the end of the source
        new_length = new_end - clip.start
    else:
        raise ValueError(f"the edge to trim is 'start' or 'end', not {edge!r}")
    if _same(changed, clip):
        return
    new_lengths = {**lengths, clip_id: new_length}
    clips = [changed if item.id == clip_id else item for item in track.clips]
    check_tracks(timeline, {track.id: clips}, new_lengths, {clip_id}, lengths)
    track.clips = clips


def split_clip(timeline: Timeline, clip_id: str, time: float, lengths: Mapping[str, float],
               new_id: str | None = None) -> str:
    """Cut a clip in two at timeline second ``time``; returns the right-hand clip's id.

    Together the two parts show exactly what the clip showed. The left part keeps the
    opening transition and fade in, the right part takes the closing ones; a cut inside
    a transition or fade (or a later clip's crossfade from this one) is refused. A clip
    that runs to the end of its source still does with its right part (``out`` null):
    its length may not be known yet."""
    track, clip = find_clip(timeline, clip_id)
    length = lengths.get(clip_id, 0.0)
    frame = 1.0 / timeline.fps if timeline.fps > 0 else 1.0 / 24.0
    if not clip.start + frame / 2 <= time <= clip.start + length - frame / 2:
        raise TimelineEditRefused(f"{time:.2f} s is not inside clip {_label(clip)}: move the playhead onto the clip "
                                  "to split it.")
    refusal = split_refusal(track, clip, time, length, lengths, timeline.fps)
    if refusal is not None:
        raise TimelineEditRefused(refusal)
    right_id = new_id if new_id is not None else new_clip_id(timeline, clip.id)
    if any(other.id == right_id for _, other in timeline.clips()):
        raise TimelineEditRefused(f"There is already a clip called {right_id!r}.")
    cut = clip.source_time(time)
    left, right = copy.deepcopy(clip), copy.deepcopy(clip)
    left.source_out = cut
    left.transition_out, left.fade_out = None, 0.0
    right.id, right.start, right.source_in = right_id, float(time), cut
    right.transition_in, right.fade_in = None, 0.0
    if isinstance(clip.source, ImageSource):
        right.source_in, right.source_out = clip.source_in, clip.source_in + (clip.start + length - time) * clip.speed
        left.source_out = clip.source_in + (time - clip.start) * clip.speed
    index = next(i for i, item in enumerate(track.clips) if item.id == clip_id)
    clips = [*track.clips[:index], left, right, *track.clips[index + 1:]]
    new_lengths = {**lengths, clip_id: time - clip.start, right_id: clip.start + length - time}
    check_tracks(timeline, {track.id: clips}, new_lengths, {clip_id, right_id}, lengths)
    track.clips = clips
    return right_id


def delete_clips(timeline: Timeline, clip_ids: Iterable[str], lengths: Mapping[str, float],
                 ripple: bool = False) -> None:
    """Remove clips. With ``ripple`` the later clips of each such track move left by the
    time the removed clips left empty (not the time a kept clip still covers, such as the
    clip a removed one crossfaded from), closing the gap; other tracks do not move. A clip
    that crossfaded from a removed one loses that crossfade."""
    removed: dict[str, list[Clip]] = {}
    for clip_id in dict.fromkeys(clip_ids):
        track, clip = find_clip(timeline, clip_id)
        removed.setdefault(track.id, []).append(clip)
    new_lists: dict[str, list[Clip]] = {}
    for track_id, gone in removed.items():
        gone_ids = {clip.id for clip in gone}
        staying = [clip for clip in _track(timeline, track_id).clips if clip.id not in gone_ids]
        gaps = ripple_gaps(gone, staying, lengths) if ripple else []
        kept = []
        for clip in staying:
            shift = shift_before(clip.start, gaps)
            if shift > 0:
                clip = copy.copy(clip)
                clip.start = max(0.0, clip.start - shift)
            kept.append(clip)
        new_lists[track_id] = kept
    drop_orphan_crossfades(timeline, new_lists, lengths)
    check_tracks(timeline, new_lists, lengths, set())
    _replace(timeline, new_lists)


def ripple_delete(timeline: Timeline, clip_ids: Iterable[str], lengths: Mapping[str, float]) -> None:
    """Remove clips and close the gaps they leave on their own tracks."""
    delete_clips(timeline, clip_ids, lengths, ripple=True)


def set_clip_fields(timeline: Timeline, clip_id: str, fields: Mapping[str, Any], lengths: Mapping[str, float]) -> None:
    """Change a clip's name, gain, fades, speed, transitions or fit. A transition may be
    given as a :class:`Transition`, a ``{"kind", "duration"}`` dict or None. A crossfade
    blends from the clip before, so giving one (or a new length to one) slides the clip to
    overlap that clip by exactly its length, and taking one away slides the clip to start
    where that clip ends: the track stays one the export accepts."""
    track, clip = find_clip(timeline, clip_id)
    unknown = [name for name in fields if name not in CLIP_FIELDS]
    if unknown:
        raise ValueError(f"clips have no field {unknown[0]!r}; they have {', '.join(CLIP_FIELDS)}")
    changed = copy.deepcopy(clip)
    for name, value in fields.items():
        setattr(changed, name, _checked_field(clip, track, name, value))
    if "transition_in" in fields:
        _fit_crossfade(track, clip, changed, lengths, timeline.fps)
    new_length = lengths.get(clip_id, 0.0)
    if changed.speed != clip.speed:
        new_length = (source_end(clip, new_length) - clip.source_in) / changed.speed
    clips = [changed if item.id == clip_id else item for item in track.clips]
    check_tracks(timeline, {track.id: clips}, {**lengths, clip_id: new_length}, {clip_id}, lengths)
    track.clips = clips


# ----- checks and helpers -------------------------------------------------------------------
def _fit_crossfade(track: Track, clip: Clip, changed: Clip, lengths: Mapping[str, float], fps: float) -> None:
    """Slide ``changed`` so its crossfade (or the lack of one) fits the clip before it."""
    old, new = _crossfade(clip), _crossfade(changed)
    if old == new:
        return
    tolerance = 0.5 / fps if fps > 0 else 0.5 / 24.0
    earlier = [other for other in track.clips if other.id != clip.id and other.start < clip.start]
    previous = max(earlier, key=lambda other: other.start + lengths.get(other.id, 0.0), default=None)
    previous_end = previous.start + lengths.get(previous.id, 0.0) if previous is not None else None
    if new is not None:
        if previous is None or previous_end is None or previous_end < clip.start - tolerance:
            instead = "fade_in" if track.is_audio else "a fade from black"
            raise TimelineEditRefused(f"Clip {_label(clip)} does not meet a clip before it on track {track.id}: "
                                      f"move it against the clip it should blend from first, or use {instead}.")
        if new.duration > lengths.get(previous.id, 0.0) + tolerance:
            raise TimelineEditRefused(f"A {new.duration:g} s crossfade is longer than clip {_label(previous)} "
                                      "it blends from: make it shorter.")
        if previous_end - new.duration < -EPSILON:
            raise TimelineEditRefused(f"A {new.duration:g} s crossfade would start clip {_label(clip)} before "
                                      "0 s: make it shorter.")
        changed.start = max(0.0, previous_end - new.duration)
    elif previous_end is not None and previous_end > clip.start + tolerance:
        changed.start = previous_end


def _crossfade(clip: Clip) -> Transition | None:
    transition = clip.transition_in
    return transition if transition is not None and transition.kind == CROSSFADE else None


def _checked_field(clip: Clip, track: Track, name: str, value: Any) -> Any:
    label = _label(clip)
    if name in ("transition_in", "transition_out"):
        if value is None:
            return None
        transition = value if isinstance(value, Transition) else \
            Transition(str(value.get("kind", "")), float(value.get("duration", 0.0)))
        allowed = TRANSITIONS_IN if name == "transition_in" else TRANSITIONS_OUT
        if track.is_audio:
            allowed = tuple(kind for kind in allowed if kind == CROSSFADE)
        if transition.kind not in allowed:
            where = "open" if name == "transition_in" else "close"
            raise TimelineEditRefused(f"A {transition.kind.replace('_', ' ')} cannot {where} clip {label}; "
                                      f"use {' or '.join(allowed) or 'fade_in/fade_out'}.")
        if transition.duration <= 0:
            raise TimelineEditRefused(f"The {transition.kind.replace('_', ' ')} of clip {label} must last "
                                      "more than 0 s.")
        return transition
    if name == "speed":
        if not 0 < float(value) <= MAX_SPEED:
            raise TimelineEditRefused(f"The speed of clip {label} must be above 0 and at most {MAX_SPEED:g}.")
        return float(value)
    if name in ("fade_in", "fade_out") and float(value) < 0:
        raise TimelineEditRefused(f"The {name.replace('_', ' ')} of clip {label} cannot be negative.")
    if name in ("gain_db", "fade_in", "fade_out"):
        return float(value)
    return value


def _check_placement(clip: Clip, track: Track, placement: Placement) -> None:
    kind = placement(clip)
    if kind == PICTURE and track.is_audio:
        what = f"the still {clip.source.path}" if isinstance(clip.source, ImageSource) else f"clip {_label(clip)}"
        raise TimelineEditRefused(f"{what[0].upper()}{what[1:]} has no sound: it cannot go on audio track "
                                  f"{track.id}.")
    if kind == SOUND and not track.is_audio:
        raise TimelineEditRefused(f"Clip {_label(clip)} is only sound: it cannot go on video track {track.id}.")


def _replace(timeline: Timeline, new_lists: Mapping[str, list[Clip]]) -> None:
    for track_id, clips in new_lists.items():
        _track(timeline, track_id).clips = list(clips)


def _track(timeline: Timeline, track_id: str) -> Track:
    try:
        return find_track(timeline, track_id)
    except KeyError:
        raise TimelineEditRefused(f"There is no track {track_id!r}.") from None


def _in_order(clips: list[Clip], placed: Clip) -> list[Clip]:
    """``clips`` with ``placed`` (its last item) moved before the first clip that starts after it."""
    others = [clip for clip in clips if clip is not placed]
    index = next((i for i, clip in enumerate(others) if clip.start > placed.start), len(others))
    return [*others[:index], placed, *others[index:]]


def _same(first: Clip, second: Clip) -> bool:
    return first.to_dict() == second.to_dict()


def _label(clip: Clip) -> str:
    return repr(clip.name or clip.id)

