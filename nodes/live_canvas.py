"""Live canvases: the pictures a live sketch session hands to its graph, by id and
version, so a stroke reaches ``diffusion.SketchToImage`` without being copied, hashed
or written into the workflow document.

A session opens a :class:`LiveCanvas` and puts each new picture into it; ``put``
returns a short reference, ``"<canvas id>@<version>"``, which the ``live.Canvas``
node takes as a typed-in STRING. That string is all the cache key ever sees of the
picture: a new version is a new key, and no pixel is read to make it. The node looks
the picture up here and gets a read-only view of the very array the session handed
over.

The registry below holds canvases weakly: when a session lets go of its canvas (or
closes it), the canvas and its pictures go, and a graph that still names it fails
with a message instead of keeping pictures alive.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict

import numpy as np

from nodes.spec import NodeFailure

#: Versions a canvas keeps by default: the one being painted, the one about to be, and
#: a few more for a run that starts late. Older requests are stale by then anyway.
KEPT_VERSIONS = 8
SEPARATOR = "@"


class LiveCanvas:
    """One session's canvas: its latest versions as read-only arrays, by number."""

    def __init__(self, keep: int = KEPT_VERSIONS) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.keep = max(1, keep)
        self.version = 0
        self._pictures: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.closed = False

    def put(self, picture: np.ndarray) -> tuple[int, str]:
        """Keep ``picture`` (uint8 H×W×3 or H×W×4) as the next version, without copying
        it: the caller must hand over a new array for each change and not draw into it
        afterwards. Returns (version, reference for the ``live.Canvas`` node)."""
        check_picture(picture)
        view = picture.view()
        view.flags.writeable = False
        with self._lock:
            if self.closed:
                raise ValueError("this live canvas is closed")
            self.version += 1
            version = self.version
            self._pictures[version] = view
            while len(self._pictures) > self.keep:
                self._pictures.popitem(last=False)
        return version, reference(self.id, version)

    def get(self, version: int) -> np.ndarray | None:
        with self._lock:
            return self._pictures.get(version)

    def close(self) -> None:
        """Let go of every picture; graphs that still name this canvas fail with a message."""
        with self._lock:
            self.closed = True
            self._pictures.clear()
        _canvases.pop(self.id, None)


_canvases: "weakref.WeakValueDictionary[str, LiveCanvas]" = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


def open_canvas(keep: int = KEPT_VERSIONS) -> LiveCanvas:
    """A new canvas, findable by its id for as long as someone holds it."""
    canvas = LiveCanvas(keep)
    with _registry_lock:
        _canvases[canvas.id] = canvas
    return canvas


def reference(canvas_id: str, version: int) -> str:
    return f"{canvas_id}{SEPARATOR}{version}"


def find_picture(text: str) -> np.ndarray:
    """The picture a ``"<canvas id>@<version>"`` reference names; NodeFailure in words
    when the canvas is closed or the version is long gone."""
    canvas_id, _, number = text.partition(SEPARATOR)
    if not canvas_id or not number.isdigit():
        raise NodeFailure(f"{text!r} does not name a live canvas picture (it looks like 'canvas@version'); "
                          "this node only works inside a live sketch session")
    with _registry_lock:
        canvas = _canvases.get(canvas_id)
    if canvas is None or canvas.closed:
        raise NodeFailure(f"the live canvas {canvas_id} is closed; draw on an open live sketch canvas instead")
    picture = canvas.get(int(number))
    if picture is None:
        raise NodeFailure(f"version {number} of the live canvas {canvas_id} is no longer kept "
                          f"(a canvas keeps its latest {canvas.keep}); a newer stroke replaced it")
    return picture


def check_picture(picture: object) -> None:
    """A canvas is a uint8 height × width × 3 (RGB) or × 4 (RGBA) array."""
    if not isinstance(picture, np.ndarray) or picture.dtype != np.uint8 or picture.ndim != 3 \
            or picture.shape[2] not in (3, 4) or picture.shape[0] == 0 or picture.shape[1] == 0:
        described = getattr(picture, "shape", type(picture).__name__)
        dtype = getattr(picture, "dtype", "")
        raise ValueError(f"a live canvas takes a uint8 height × width × 3 or 4 array, not {dtype} {described}")
