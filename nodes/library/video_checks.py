"""video.Check: measure a clip and hold it to what a good one looks like, so a batch run
can flag or retry a broken render (too short, wrong shape, no sound, black or frozen)
instead of a creator finding it later. The measuring lives in ``nodes.media_checks``,
which export also runs on every rendered file.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from nodes.clip_editing import parse_aspect
from nodes.media_checks import Expectations, check_video
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import BOOLEAN, FLOAT, STRING, VIDEO, Video

MAX_SECONDS = 24 * 3600.0


def _check_aspect(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    aspect = constants.get("aspect")
    if isinstance(aspect, str) and aspect.strip():
        try:
            parse_aspect(aspect)
        except ValueError as error:
            yield "aspect", str(error), "write it as width:height, such as 16:9 or 9:16, or leave it empty"


@node("video.Check", category="video",
      description="Measures the clip (duration, size, aspect, frame rate, sound, black and frozen stretches, "
                  "silent sound) and compares it with what you expect. The report is JSON text; 'passed' says "
                  "whether every expectation held. With 'fail on problems' a clip that falls short stops this "
                  "branch with a message listing what failed.",
      inputs=[Input("video", VIDEO),
              Input("min_duration", FLOAT, default=0.0, min=0.0, max=MAX_SECONDS, step=0.5,
                    description="Shortest acceptable length in seconds; 0 = any."),
              Input("max_duration", FLOAT, default=0.0, min=0.0, max=MAX_SECONDS, step=0.5,
                    description="Longest acceptable length in seconds; 0 = any."),
              Input("aspect", STRING, default="", description="Such as 16:9 or 9:16; empty = any."),
              Input("require_audio", BOOLEAN, default=False,
                    description="The clip must have sound that is not silent throughout."),
              Input("max_black_seconds", FLOAT, default=1.0, min=-1.0, max=MAX_SECONDS, step=0.1,
                    description="Most seconds of black frames allowed in all; -1 = no limit."),
              Input("max_frozen_seconds", FLOAT, default=-1.0, min=-1.0, max=MAX_SECONDS, step=0.1,
                    description="Longest the picture may stand still, in seconds; -1 = no limit (title cards "
                                "and stills stand still on purpose)."),
              Input("fail_on_problems", BOOLEAN, default=False)],
      outputs=[Output("video", VIDEO), Output("report", STRING), Output("passed", BOOLEAN)],
      check=_check_aspect)
def check(ctx: Any, video: Video, min_duration: float, max_duration: float, aspect: str, require_audio: bool,
          max_black_seconds: float, max_frozen_seconds: float, fail_on_problems: bool) -> tuple[Video, str, bool]:
    if not isinstance(video, Video):
        raise NodeFailure(f"the video is not a video clip (got {type(video).__name__})")
    if max_duration and min_duration > max_duration:
        raise NodeFailure(f"the shortest length ({min_duration:g} s) is above the longest ({max_duration:g} s)")
    try:
        expectations = Expectations(min_duration, max_duration, aspect, require_audio, max_black_seconds,
                                    max_frozen_seconds)
    except ValueError as error:
        raise NodeFailure(str(error)) from None
    report = check_video(video, expectations, progress=ctx.progress)
    if fail_on_problems and report.problems:
        raise NodeFailure("the clip failed its check: " + "; ".join(report.problems))
    return video, report.to_text(), report.passed
