"""What a running node can reach: its cancellation token, a progress reporter, the
device it runs on and where output nodes write files.

The executor (in ``gpu/``) builds one context per node it runs; node functions only
use the small surface here, so they run the same in the GUI, the CLI, the render
queue and on a farm worker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping


class Cancelled(Exception):
    """Raised inside a node when its run was cancelled; the executor records no error."""


class CancelToken:
    """A flag shared by everything one run does; any thread may set it."""

    __slots__ = ("_event", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled by the user") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until cancelled or ``timeout`` passes; True when cancelled."""
        return self._event.wait(timeout)


ProgressSink = Callable[[str, float, Any, str], None]


@dataclass(eq=False)
class NodeContext:
    """Handed to every node function as its first argument."""

    node_id: str
    type_name: str
    title: str
    cancel: CancelToken
    output_dir: Path
    #: The whole workflow being run, as its JSON document (image.Save embeds it);
    #: the executor fills it in only for output nodes.
    workflow: Mapping[str, Any] | None = None
    #: The device this node runs on ("cpu", "cuda:0", "mps"); set for GPU-lane nodes.
    device: str = "cpu"
    _progress: ProgressSink | None = field(default=None, repr=False)
    #: The executor's model service (``gpu.pipelines.ModelService``): turns a ModelRef
    #: into warm weights on this node's device.
    models: Any = field(default=None, repr=False)
    #: Someone is watching: step previews are worth their cost.
    previews: bool = False

    def progress(self, fraction: float, preview: Any = None, message: str = "") -> None:
        """Report how far along the node is (0..1), with an optional preview image.

        Also a cancellation point: long loops call it between steps and stop there.
        """
        self.cancel.raise_if_cancelled()
        if self._progress is not None:
            self._progress(self.node_id, min(1.0, max(0.0, float(fraction))), preview, message)

    def check_cancelled(self) -> None:
        """Stop here if the run was cancelled."""
        self.cancel.raise_if_cancelled()
