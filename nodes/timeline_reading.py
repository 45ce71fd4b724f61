"""Reading the ``timeline`` of a project document into dataclasses, naming the track
and clip of every structural problem instead of stopping at the first one."""

from __future__ import annotations

import copy
import math
from typing import Any

from nodes.clip_editing import FIT_MODES
from nodes.timeline import (
    AUDIO_KINDS, TRANSITIONS_IN, TRANSITIONS_OUT, Clip, Ducking, FileSource, GraphSource, ImageSource, Marker,
    ProjectProblem, Source, Timeline, Track, Transition,
)
from nodes.types import describe_value, unwritable_part


class TimelineReader:
    """Turns the parsed ``timeline`` into dataclasses, recording problems instead of stopping."""

    def __init__(self, problems: list[ProjectProblem]) -> None:
        self.problems = problems

    def bad(self, message: str, track: str | None = None, clip: str | None = None, fix: str = "") -> None:
        self.problems.append(ProjectProblem(message, track, clip, fix, "malformed-project"))

    def number(self, raw: dict[str, Any], key: str, default: float | None, where: tuple[str | None, str | None],
               *, nullable: bool = False) -> float | None:
        value = raw.get(key, default)
        if value is None and (nullable or default is None):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.bad(f"'{key}' must be a number, not {describe_value(value)}", *where)
            return default
        return float(value)

    def text(self, raw: dict[str, Any], key: str, where: tuple[str | None, str | None]) -> str:
        value = raw.get(key, "")
        if not isinstance(value, str):
            self.bad(f"'{key}' must be text, not {describe_value(value)}", *where)
            return ""
        return value

    def extra(self, raw: dict[str, Any], known: tuple[str, ...], where: tuple[str | None, str | None]) -> dict:
        extra = {}
        for key, value in raw.items():
            if key in known:
                continue
            if (reason := unwritable_part(value)) is not None:
                self.bad(f"{key!r} holds {reason}", *where)
            else:
                extra[key] = copy.deepcopy(value)
        return extra

    def timeline(self, raw: Any) -> Timeline:
        if raw is None:
            return Timeline()
        if not isinstance(raw, dict):
            self.bad("'timeline' must be an object with fps, width, height and tracks")
            return Timeline()
        where = (None, None)
        fps = self.number(raw, "fps", 24.0, where)
        sizes = []
        for key, default in (("width", 1280), ("height", 720)):
            value = raw.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                self.bad(f"'{key}' must be a positive whole number of pixels, not {describe_value(value)}")
                value = default
            sizes.append(value)
        tracks = {}
        for key, video in (("video_tracks", True), ("audio_tracks", False)):
            raw_tracks = raw.get(key, [])
            if not isinstance(raw_tracks, list):
                self.bad(f"'{key}' must be a list of tracks")
                raw_tracks = []
            tracks[key] = [track for index, item in enumerate(raw_tracks)
                           if (track := self.track(item, index, video)) is not None]
        markers = self.markers(raw.get("markers", []))
        ducking = self.ducking(raw.get("ducking", {}))
        extra = self.extra(raw, ("fps", "width", "height", "video_tracks", "audio_tracks", "markers", "ducking"),
                           where)
        return Timeline(24.0 if fps is None else fps, sizes[0], sizes[1], tracks["video_tracks"], tracks["audio_tracks"], markers,
                        ducking, extra)

    def track(self, raw: Any, index: int, video: bool) -> Track | None:
        label = f"{'video' if video else 'audio'} track #{index + 1}"
        if not isinstance(raw, dict):
            self.bad(f"{label} must be an object with 'id' and 'clips'")
            return None
        track_id = raw.get("id")
        if not isinstance(track_id, str) or not track_id:
            self.bad(f"{label} has no 'id'", fix="give every track a short unique id such as 'V1' or 'A1'")
            return None
        where = (track_id, None)
        kind = raw.get("kind", "video" if video else None)
        if video and kind != "video":
            self.bad(f"a video track has kind {describe_value(kind)}", *where, fix="leave 'kind' out on video tracks")
        if not video and kind not in AUDIO_KINDS:
            self.bad(f"an audio track must say its kind ({', '.join(AUDIO_KINDS)}), not {describe_value(kind)}",
                     *where, fix="set 'kind' to 'voice', 'music' or 'effects'")
            kind = "effects"
        muted = raw.get("muted", False)
        if not isinstance(muted, bool):
            self.bad("'muted' must be true or false", *where)
            muted = False
        raw_clips = raw.get("clips", [])
        if not isinstance(raw_clips, list):
            self.bad("'clips' must be a list", *where)
            raw_clips = []
        clips = [clip for position, item in enumerate(raw_clips)
                 if (clip := self.clip(item, track_id, position)) is not None]
        return Track(track_id, kind, self.text(raw, "name", where), clips, muted,
                     self.number(raw, "gain_db", 0.0, where) or 0.0,
                     self.extra(raw, ("id", "kind", "name", "clips", "muted", "gain_db"), where))

    def clip(self, raw: Any, track_id: str, position: int) -> Clip | None:
        if not isinstance(raw, dict):
            self.bad(f"clip #{position + 1} must be an object with 'id' and 'source'", track_id)
            return None
        clip_id = raw.get("id")
        if not isinstance(clip_id, str) or not clip_id:
            self.bad(f"clip #{position + 1} has no 'id'", track_id, fix="give every clip a unique id")
            return None
        where = (track_id, clip_id)
        count = len(self.problems)
        source = self.source(raw.get("source"), where)
        speed = self.number(raw, "speed", 1.0, where)
        fit = raw.get("fit")
        if fit is not None and fit not in FIT_MODES:
            self.bad(f"'fit' must be one of {', '.join(FIT_MODES)}, not {describe_value(fit)}", *where)
        clip = Clip(
            clip_id, source or FileSource(""),
            start=self.number(raw, "start", 0.0, where) or 0.0,
            source_in=self.number(raw, "in", 0.0, where) or 0.0,
            source_out=self.number(raw, "out", None, where, nullable=True),
            speed=1.0 if speed is None else speed,
            name=self.text(raw, "name", where),
            transition_in=self.transition(raw.get("transition_in"), "transition_in", where),
            transition_out=self.transition(raw.get("transition_out"), "transition_out", where),
            fit=fit,
            gain_db=self.number(raw, "gain_db", 0.0, where) or 0.0,
            fade_in=self.number(raw, "fade_in", 0.0, where) or 0.0,
            fade_out=self.number(raw, "fade_out", 0.0, where) or 0.0,
            extra=self.extra(raw, ("id", "source", "start", "in", "out", "speed", "name", "transition_in",
                                   "transition_out", "fit", "gain_db", "fade_in", "fade_out"), where),
        )
        return clip if len(self.problems) == count else None

    def source(self, raw: Any, where: tuple[str | None, str | None]) -> Source | None:
        fix = 'write {"file": "clip.mp4"}, {"image": "still.png"} or {"graph": "g", "node": "3", "output": "video"}'
        if not isinstance(raw, dict):
            self.bad(f"'source' must be an object, not {describe_value(raw)}", *where, fix=fix)
            return None
        if set(raw) == {"file"} and isinstance(raw["file"], str) and raw["file"]:
            return FileSource(raw["file"])
        if set(raw) == {"image"} and isinstance(raw["image"], str) and raw["image"]:
            return ImageSource(raw["image"])
        if set(raw) == {"graph", "node", "output"} and all(isinstance(raw[key], str) and raw[key] for key in raw):
            return GraphSource(raw["graph"], raw["node"], raw["output"])
        self.bad("'source' must name exactly one file, image, or graph output", *where, fix=fix)
        return None

    def transition(self, raw: Any, key: str, where: tuple[str | None, str | None]) -> Transition | None:
        if raw is None:
            return None
        allowed = TRANSITIONS_IN if key == "transition_in" else TRANSITIONS_OUT
        if not isinstance(raw, dict) or raw.get("kind") not in allowed:
            kind = raw.get("kind") if isinstance(raw, dict) else raw
            self.bad(f"'{key}' kind {describe_value(kind)} is not one of {', '.join(allowed)}", *where,
                     fix=f'write {{"kind": "{allowed[0]}", "duration": 1.0}}')
            return None
        duration = self.number(raw, "duration", 1.0, where)
        return Transition(raw["kind"], 1.0 if duration is None else duration)

    def markers(self, raw: Any) -> list[Marker]:
        if not isinstance(raw, list):
            self.bad("'markers' must be a list")
            return []
        markers = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or isinstance(item.get("time"), bool) \
                    or not isinstance(item.get("time"), (int, float)) or not math.isfinite(item["time"]):
                self.bad(f"marker #{index + 1} needs a 'time' in seconds", fix='write {"time": 12.5, "name": "..."}')
                continue
            name, color = item.get("name", ""), item.get("color", "")
            if not isinstance(name, str) or not isinstance(color, str):
                self.bad(f"marker #{index + 1}: 'name' and 'color' must be text")
                continue
            markers.append(Marker(float(item["time"]), name, color))
        return markers

    def ducking(self, raw: Any) -> Ducking:
        if not isinstance(raw, dict):
            self.bad("'ducking' must be an object with amount_db, attack and release")
            return Ducking()
        default = Ducking()
        return Ducking(*(self.number(raw, key, getattr(default, key), (None, None)) or 0.0
                         for key in ("amount_db", "attack", "release")))
