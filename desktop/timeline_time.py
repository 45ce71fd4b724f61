"""Time as the timeline shows it: time codes, and which ticks the ruler draws at a zoom.

Shared by the ruler (ticks and labels), the tracks (grid lines under the clips, so
they line up with the ruler) and the time code box; plain functions, no widgets.
"""

from __future__ import annotations

import math

#: Labels on the ruler need about this many pixels between them.
LABEL_SPACING = 84.0
#: Minor ticks closer than this are not drawn.
MINOR_SPACING = 7.0
#: Whole-second steps a major tick may take.
SECOND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800)
FRAME_STEPS = (1, 2, 5, 10)


def frame_rate(fps: float) -> float:
    return fps if fps > 0 else 24.0


def tick_steps(pixels_per_second: float, fps: float) -> tuple[float, float]:
    """(major, minor) tick spacing in seconds at this zoom: majors far enough apart to
    carry a label, minors dividing them evenly (whole frames when below a second)."""
    rate = frame_rate(fps)
    candidates = [count / rate for count in FRAME_STEPS if count / rate < 1.0] + [float(step) for step in SECOND_STEPS]
    major = next((step for step in candidates if step * pixels_per_second >= LABEL_SPACING), candidates[-1])
    minor = major
    for parts in (10, 6, 5, 4, 2):
        step = major / parts
        whole_frames = major >= 1.0 or abs(step * rate - round(step * rate)) < 1e-6
        whole_seconds = major < 60 or step >= 60 or step in (1.0, 5.0, 10.0, 15.0, 30.0)
        if step * pixels_per_second >= MINOR_SPACING and whole_frames and whole_seconds:
            minor = step
            break
    return major, minor


def tick_times(first: float, last: float, step: float) -> list[float]:
    """Multiples of ``step`` from ``first`` to ``last`` seconds (none before 0)."""
    begin = max(0, math.floor(first / step))
    end = math.ceil(last / step)
    return [index * step for index in range(begin, end + 1)]


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour) of whole seconds."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def tick_label(seconds: float, major: float, fps: float) -> str:
    """A ruler label: the clock at whole seconds, the frame number (``12f``) between them."""
    rate = frame_rate(fps)
    frames = int(round(seconds * rate))
    whole, frame = divmod(frames, int(round(rate))) if abs(rate - round(rate)) < 1e-6 else (int(seconds), 0)
    if major >= 1.0 or frame == 0:
        return clock(whole)
    return f"{frame}f"


def timecode(seconds: float, fps: float) -> str:
    """``HH:MM:SS:FF``: hours, minutes, seconds and the frame within the second."""
    rate = frame_rate(fps)
    nominal = max(1, int(round(rate)))
    frames = max(0, int(math.floor(seconds * rate + 1e-6)))
    whole, frame = divmod(frames, nominal) if abs(rate - nominal) < 1e-6 else (int(seconds), int((seconds % 1) * rate))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{frame:02d}"


def on_frame(seconds: float, fps: float) -> float:
    """``seconds`` moved to the nearest frame boundary (the playhead sits on frames)."""
    rate = frame_rate(fps)
    return max(0.0, round(seconds * rate) / rate)
