"""The project document: the graphs of an episode and the timeline that cuts their
outputs, files and stills together with voices and music.

::

    {"format": "reelgraph.project", "version": 1, "name": "Episode 1",
     "graphs": {"<graph id>": {<a reelgraph.workflow document>}},
     "timeline": {"fps": 24, "width": 1280, "height": 720,
                  "video_tracks": [{"id": "V1", "clips": [<clip>, ...]}],
                  "audio_tracks": [{"id": "A1", "kind": "voice", "gain_db": 0, "clips": [...]}],
                  "markers": [{"time": 12.5, "name": "act two"}],
                  "ducking": {"amount_db": 12, "attack": 0.25, "release": 0.5}},
     "meta": {}}

A clip shows ``source`` from timeline second ``start``; it plays source seconds
``in`` .. ``out`` (``out`` null: to the end of the source) at ``speed``. A source is
``{"file": PATH}``, ``{"image": PATH}`` or ``{"graph": ID, "node": ID, "output": NAME}``
(paths relative to the project file). The README documents every field.

Like the workflow document it is plain JSON, read without running code; newer
versions are refused, older ones migrated (``MIGRATIONS``); keys this version does
not know are kept. Structural damage raises :class:`ProjectError` naming the track
and clip; meaning (overlaps, lengths, missing files, unknown graphs) is checked by
``nodes.timeline_validation``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from nodes.atomic_write import write_atomically
from nodes.graph import Graph, json_text, parse_json
from nodes.problems import WorkflowError
from nodes.types import describe_value, unwritable_part

FORMAT = "reelgraph.project"
VERSION = 1
#: ``MIGRATIONS[n]`` turns a version-``n`` project into version ``n + 1`` (none yet).
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

AUDIO_KINDS = ("voice", "music", "effects")
CROSSFADE = "crossfade"
FADE_FROM_BLACK = "fade_from_black"
FADE_TO_BLACK = "fade_to_black"
#: Which transitions may open a clip and which may close it.
TRANSITIONS_IN = (CROSSFADE, FADE_FROM_BLACK)
TRANSITIONS_OUT = (FADE_TO_BLACK,)
MAX_SPEED = 16.0


# ----- problems ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectProblem:
    """One thing wrong with a project, naming where (graph, track, clip) and the fix."""

    message: str
    track: str | None = None
    clip: str | None = None
    fix: str = ""
    code: str = ""
    graph: str | None = None

    def where(self) -> str:
        parts = []
        if self.graph is not None:
            parts.append(f"graph {self.graph!r}")
        if self.track is not None:
            parts.append(f"track {self.track!r}")
        if self.clip is not None:
            parts.append(f"clip {self.clip!r}")
        return ", ".join(parts) or "project"

    def __str__(self) -> str:
        text = f"{self.where()}: {self.message}"
        return text + (f" — fix: {self.fix}" if self.fix else "")

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "graph": self.graph, "track": self.track, "clip": self.clip,
                "message": self.message, "fix": self.fix}


class ProjectError(Exception):
    """A project that cannot be opened or rendered; carries every problem found."""

    def __init__(self, problems: list[ProjectProblem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        first = str(problems[0]) if problems else "invalid project"
        more = len(problems) - 1
        if more > 0:
            first += f" (and {more} more problem{'s' if more > 1 else ''})"
        super().__init__((f"{source}: " if source else "") + first)

    def text(self) -> str:
        """The report as a creator reads it in a terminal."""
        return "\n".join([f"{len(self.problems)} problem(s):"] + [f"  error: {problem}" for problem in self.problems])


# ----- the document -------------------------------------------------------------------------
@dataclass
class FileSource:
    """A video or audio file (any container PyAV reads)."""

    path: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path}


@dataclass
class ImageSource:
    """A still picture, shown for as long as the clip lasts."""

    path: str

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.path}


@dataclass
class GraphSource:
    """An output of one of the project's graphs (VIDEO, IMAGE or AUDIO), computed before rendering."""

    graph: str
    node: str
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {"graph": self.graph, "node": self.node, "output": self.output}


Source = FileSource | ImageSource | GraphSource


@dataclass
class Transition:
    kind: str
    duration: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "duration": self.duration}


@dataclass
class Clip:
    """A piece of a source placed on a track."""

    id: str
    source: Source
    #: Timeline second where the clip begins.
    start: float = 0.0
    #: Source seconds played: ``source_in`` .. ``source_out`` (None: to the end of the source).
    source_in: float = 0.0
    source_out: float | None = None
    speed: float = 1.0
    name: str = ""
    transition_in: Transition | None = None
    transition_out: Transition | None = None
    #: How a picture meets the frame: None lets the export preset decide.
    fit: str | None = None
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def length(self, source_length: float | None = None) -> float | None:
        """Timeline seconds the clip lasts, or None when it runs to the end of a source of unknown length."""
        end = self.source_out if self.source_out is not None else source_length
        if end is None:
            return None
        return max(0.0, end - self.source_in) / self.speed

    def source_time(self, timeline_time: float) -> float:
        """The source second shown at ``timeline_time``."""
        return self.source_in + (timeline_time - self.start) * self.speed

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "source": self.source.to_dict(), "start": self.start,
                                "in": self.source_in, "out": self.source_out, "speed": self.speed}
        if self.name:
            data["name"] = self.name
        if self.transition_in is not None:
            data["transition_in"] = self.transition_in.to_dict()
        if self.transition_out is not None:
            data["transition_out"] = self.transition_out.to_dict()
        if self.fit is not None:
            data["fit"] = self.fit
        for key, value, default in (("gain_db", self.gain_db, 0.0), ("fade_in", self.fade_in, 0.0),
                                    ("fade_out", self.fade_out, 0.0)):
            if value != default:
                data[key] = value
        data.update(copy.deepcopy(self.extra))
        return data


@dataclass
class Track:
    """A row of clips. Video tracks stack upwards (later tracks cover earlier ones);
    audio tracks are mixed, music ducked under voice."""

    id: str
    kind: str = "video"
    name: str = ""
    clips: list[Clip] = field(default_factory=list)
    muted: bool = False
    gain_db: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_audio(self) -> bool:
        return self.kind in AUDIO_KINDS

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.is_audio:
            data["kind"] = self.kind
        if self.name:
            data["name"] = self.name
        if self.muted:
            data["muted"] = True
        if self.is_audio and self.gain_db:
            data["gain_db"] = self.gain_db
        data["clips"] = [clip.to_dict() for clip in self.clips]
        data.update(copy.deepcopy(self.extra))
        return data


@dataclass
class Marker:
    time: float
    name: str = ""
    color: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"time": self.time, "name": self.name}
        if self.color:
            data["color"] = self.color
        return data


@dataclass
class Ducking:
    """How far music drops while a voice clip plays, and how fast it moves."""

    amount_db: float = 12.0
    attack: float = 0.25
    release: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return {"amount_db": self.amount_db, "attack": self.attack, "release": self.release}


@dataclass
class Timeline:
    fps: float = 24.0
    width: int = 1280
    height: int = 720
    video_tracks: list[Track] = field(default_factory=list)
    audio_tracks: list[Track] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    ducking: Ducking = field(default_factory=Ducking)
    extra: dict[str, Any] = field(default_factory=dict)

    def tracks(self) -> Iterator[Track]:
        yield from self.video_tracks
        yield from self.audio_tracks

    def clips(self) -> Iterator[tuple[Track, Clip]]:
        for track in self.tracks():
            for clip in track.clips:
                yield track, clip

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fps": self.fps, "width": self.width, "height": self.height,
            "video_tracks": [track.to_dict() for track in self.video_tracks],
            "audio_tracks": [track.to_dict() for track in self.audio_tracks],
            "markers": [marker.to_dict() for marker in self.markers],
            "ducking": self.ducking.to_dict(),
        }
        data.update(copy.deepcopy(self.extra))
        return data


@dataclass
class Project:
    """Graphs by id, and the timeline that uses their outputs."""

    timeline: Timeline = field(default_factory=Timeline)
    graphs: dict[str, Graph] = field(default_factory=dict)
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: The folder relative paths are read from: the project file's folder (not saved).
    folder: Path = field(default_factory=Path.cwd, compare=False)

    def resolve(self, path: str) -> Path:
        """A source path as a file on this machine (relative paths from the project's folder)."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.folder / candidate

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "name": self.name,
            "graphs": {graph_id: graph.to_dict() for graph_id, graph in self.graphs.items()},
            "timeline": self.timeline.to_dict(),
            "meta": copy.deepcopy(self.meta),
        }
        data.update(copy.deepcopy(self.extra))
        return data

    def dumps(self, indent: int | None = 2) -> str:
        return json_text(self.to_dict(), indent)

    def save(self, path: str | Path) -> Path:
        """Write the project atomically: a crash leaves the old file or the new one, never half of one."""
        return write_atomically(path, (self.dumps() + "\n").encode("utf-8"))

    @classmethod
    def from_dict(cls, document: Any, source: str = "", folder: Path | None = None) -> "Project":
        """Build a project from a parsed document; ProjectError lists every structural problem."""
        from nodes.timeline_reading import TimelineReader  # it reads into this module's classes

        document = upgrade(document, source)
        problems: list[ProjectProblem] = []
        reader = TimelineReader(problems)
        graphs: dict[str, Graph] = {}
        raw_graphs = document.get("graphs", {})
        if not isinstance(raw_graphs, dict):
            problems.append(ProjectProblem("'graphs' must be an object mapping graph ids to workflows",
                                           code="malformed-project"))
            raw_graphs = {}
        for graph_id, raw_graph in raw_graphs.items():
            try:
                graphs[graph_id] = Graph.from_dict(raw_graph)
            except WorkflowError as error:
                problems.extend(ProjectProblem(f"{problem.where()}: {problem.message}", fix=problem.fix,
                                               code="malformed-graph", graph=graph_id)
                                for problem in error.problems)
        timeline = reader.timeline(document.get("timeline"))
        name = document.get("name", "")
        if not isinstance(name, str):
            problems.append(ProjectProblem("'name' must be text", code="malformed-project"))
        meta = document.get("meta", {})
        if not isinstance(meta, dict):
            problems.append(ProjectProblem("'meta' must be an object", code="malformed-project"))
        for key, value in document.items():
            if key not in ("graphs", "timeline") and (reason := unwritable_part(value)) is not None:
                problems.append(ProjectProblem(f"{key!r} holds {reason}", code="malformed-project"))
        if problems:
            raise ProjectError(problems, source)
        extra = {key: copy.deepcopy(value) for key, value in document.items()
                 if key not in ("format", "version", "name", "graphs", "timeline", "meta")}
        return cls(timeline, graphs, name, copy.deepcopy(meta), extra,
                   folder if folder is not None else Path.cwd())

    @classmethod
    def loads(cls, text: str | bytes, source: str = "", folder: Path | None = None) -> "Project":
        try:
            document = parse_json(text, source)
        except WorkflowError as error:
            raise ProjectError([ProjectProblem(problem.message, fix=problem.fix, code="malformed-project")
                                for problem in error.problems], source) from None
        return cls.from_dict(document, source, folder)

    @classmethod
    def load(cls, path: str | Path) -> "Project":
        file_path = Path(path)
        try:
            data = file_path.read_bytes()
        except FileNotFoundError:
            raise ProjectError([ProjectProblem("the file does not exist", code="missing-file")], str(path)) from None
        except IsADirectoryError:
            raise ProjectError([ProjectProblem("this is a folder, not a project file", code="missing-file")],
                               str(path)) from None
        except OSError as error:
            raise ProjectError([ProjectProblem(f"cannot read the file: {error.strerror}", code="missing-file")],
                               str(path)) from None
        return cls.loads(data, str(path), file_path.resolve().parent)


def upgrade(document: Any, source: str = "") -> dict[str, Any]:
    """Check format and version, and migrate an older project to the current version."""
    def refuse(message: str, fix: str = "") -> ProjectError:
        return ProjectError([ProjectProblem(message, fix=fix, code="malformed-project")], source)

    if not isinstance(document, dict):
        raise refuse("a project must be a JSON object")
    declared = document.get("format")
    if declared != FORMAT:
        hint = "; this is a workflow: open it with 'reelgraph run'" if declared == "reelgraph.workflow" else ""
        found = "missing" if declared is None else describe_value(declared)
        raise refuse(f"not a Reelgraph project (format is {found}, expected {FORMAT!r}){hint}")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise refuse("'version' must be a whole number")
    if version > VERSION:
        raise refuse(f"this project was saved by a newer Reelgraph (format version {describe_value(version)}); "
                     f"this version reads up to version {VERSION}", "update Reelgraph to open it")
    while version < VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            raise refuse(f"format version {describe_value(version)} is not one Reelgraph ever wrote")
        document = migrate(copy.deepcopy(document))
        version += 1
        document["version"] = version
    return document
