"""Export progress on a terminal, in the manner of ``desktop.progress``: a redrawn
bar with frames, speed and time left when stderr is a terminal; a plain line every
tenth of the way otherwise (logs, CI), so a long export is never silent."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from gpu.timeline_render import RenderProgress

BAR_WIDTH = 24


class RenderProgressBar:
    """A ``progress`` callback for ``render_project`` that draws on ``stream``."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._last_draw = 0.0
        self._last_tenth = -1
        self._stage = ""
        self._frames_began: float | None = None

    def __call__(self, progress: RenderProgress) -> None:
        if progress.stage != self._stage:
            if self.interactive and self._stage:
                self.stream.write("\r\x1b[2K")
            self._stage, self._last_tenth = progress.stage, -1
            if progress.stage == "frames":
                self._frames_began = time.perf_counter()
        finished = progress.done >= progress.total
        if self.interactive:
            now = time.perf_counter()
            if finished or now - self._last_draw >= 0.1:
                self._last_draw = now
                self.stream.write("\r\x1b[2K" + self.line(progress))
                if finished:
                    self.stream.write("\n")
                self.stream.flush()
            return
        tenth = int(progress.fraction * 10)
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(self.line(progress) + "\n")
            self.stream.flush()

    def line(self, progress: RenderProgress) -> str:
        filled = int(BAR_WIDTH * min(progress.fraction, 1.0))
        text = (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {progress.stage} "
                f"{progress.done}/{progress.total}")
        if progress.stage == "frames" and self._frames_began is not None and progress.done:
            spent = time.perf_counter() - self._frames_began
            speed = progress.done / spent if spent > 0 else 0.0
            left = (progress.total - progress.done) / speed if speed > 0 else 0.0
            text += f"  {speed:5.1f} fps  {left:5.0f} s left"
        elif progress.message:
            text += f"  {progress.message}"
        return text + f"  {progress.elapsed:6.1f} s"
