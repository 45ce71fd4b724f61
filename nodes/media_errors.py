"""The error every media file part raises, and the small words PyAV's errors and
channel layouts are turned into; shared by :mod:`nodes.media_files` (reading) and
:mod:`nodes.media_writer` (writing)."""

from __future__ import annotations

from nodes.spec import NodeFailure


class MediaError(NodeFailure):
    """A media file that cannot be read or written; the message names the file and says why."""


def reason(error: BaseException) -> str:
    """PyAV's words for an error, without the file path it repeats."""
    text = getattr(error, "strerror", None) or str(error)
    return str(text).strip() or type(error).__name__


def channel_layout(channels: int) -> str:
    """The layout name FFmpeg knows for a channel count: mono, stereo, or "Nc"."""
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
