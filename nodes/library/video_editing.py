"""Cutting and shaping clips: join, crossfade, trim, resize, crop and pad them, make
clips from stills (Ken Burns, title cards, picture sequences) and take a frame back out.

Durations and times are seconds; frames follow from the clip's rate. Every node keeps
a clip's sound lined up with its pictures: a trimmed clip keeps the sound of the part
it kept, joined clips carry each one's own sound. The work on frames and samples lives
in ``nodes.clip_editing``, which the timeline's export shares.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from nodes.clip_editing import BLACK, FIT_MODES, as_video, blend_into, converted_samples, \
    crossfade_weights, crossfaded_soundtrack, finished, fitted_picture, frame_count, \
    joined_soundtrack, new_frames, parse_aspect, placement, retimed_length, sample_at, write_conformed
from nodes.library.image import INTERPOLATIONS, MAX_SIDE, _interpolation, as_image, parse_colour, require_within, \
    requested_size
from nodes.spec import Input, NodeFailure, Output, node
from nodes.still_motion import EASINGS, Move, eased, fade_levels, ken_burns_frames
from nodes.title_text import ALIGNMENTS, POSITIONS, load_font, text_mask
from nodes.types import FLOAT, IMAGE, IMAGES, INT, STRING, VIDEO, Audio, Video

MAX_SECONDS = 24 * 3600.0
MAX_FPS = 240.0
CLIP_SLOTS = tuple(f"video_{number}" for number in range(1, 9))
COLOUR_FIX = "write the colour as #rrggbb, or a name such as 'teal'"


def _checks(colours: Iterable[str] = (), aspects: Iterable[str] = ()) -> Callable[[Mapping[str, Any]], Any]:
    """A validation hook for typed-in colours and aspect ratios, so a typo shows before the run."""
    def check(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
        for name in colours:
            if isinstance(constants.get(name), str):
                try:
                    parse_colour(constants[name])
                except ValueError as error:
                    yield name, str(error), COLOUR_FIX
        for name in aspects:
            if isinstance(constants.get(name), str) and constants[name].strip():
                try:
                    parse_aspect(constants[name])
                except ValueError as error:
                    yield name, str(error), "write it as width:height, such as 16:9, or leave it empty"
    return check


def _colour(text: str) -> tuple[int, int, int]:
    try:
        return parse_colour(text)
    except ValueError as error:
        raise NodeFailure(str(error)) from None


def _stepper(ctx: Any, total: int) -> Callable[[], None]:
    """Report progress about every 2 % of ``total`` frames; also where a cancel stops the node."""
    done = 0
    every = max(1, total // 50)

    def step() -> None:
        nonlocal done
        done += 1
        if done % every == 0 or done == total:
            ctx.progress(done / total)

    return step


def _seconds_input(name: str, default: float, description: str, minimum: float = 0.0) -> Input:
    return Input(name, FLOAT, default=default, min=minimum, max=MAX_SECONDS, step=0.1, description=description)


def _fps_input(default: float = 24.0) -> Input:
    return Input("fps", FLOAT, default=default, min=1.0, max=MAX_FPS, step=1.0, description="Frames per second.")


def _size_inputs(width: int = 1280, height: int = 720) -> list[Input]:
    return [Input("width", INT, default=width, min=1, max=MAX_SIDE, step=8),
            Input("height", INT, default=height, min=1, max=MAX_SIDE, step=8)]


# ----- joining --------------------------------------------------------------------------------

@node("video.Concat", category="video",
      description="Plays 2 to 8 clips one after another, in slot order. Clips of another size or frame rate are "
                  "converted to the first clip's: fitted as 'fit' says (letterbox shows all of it with black bars, "
                  "fill crops the overflow, stretch ignores the shape) and frames repeated or dropped to match its "
                  "frame rate. Each clip's sound stays with its pictures; a clip without sound is silent there.",
      inputs=[*(Input(slot, VIDEO, optional=index >= 2) for index, slot in enumerate(CLIP_SLOTS)),
              Input("fit", STRING, default="letterbox", choices=FIT_MODES)],
      outputs=[Output("video", VIDEO)], uses_all_cores=True)
def concat(ctx: Any, fit: str, **slots: Any) -> Video:
    clips = [as_video(slots[slot], slot.replace("_", " ")) for slot in CLIP_SLOTS if slots.get(slot) is not None]
    if len(clips) < 2:
        raise NodeFailure("link at least two clips to join")
    first = clips[0]
    fps = first.fps
    _, height, width, channels = first.frames.shape
    lengths = [retimed_length(len(clip.frames), clip.fps, fps) for clip in clips]
    frames = new_frames(sum(lengths), height, width, channels)
    step = _stepper(ctx, len(frames))
    pieces, start = [], 0
    for clip, length in zip(clips, lengths):
        write_conformed(clip, frames[start : start + length], fit, BLACK, fps, step)
        pieces.append((clip, start, length))
        start += length
    return finished(Video(frames, fps, joined_soundtrack(pieces, fps, len(frames))))


@node("video.Crossfade", category="video",
      description="Joins two clips, the first dissolving into the second over 'overlap' seconds (the result is "
                  "that much shorter than both together). The second clip is converted to the first's size and "
                  "frame rate as 'fit' says. The sound crossfades too, with equal-power curves.",
      inputs=[Input("first", VIDEO), Input("second", VIDEO),
              _seconds_input("overlap", 1.0, "How long both clips show at once, in seconds.", minimum=0.001),
              Input("fit", STRING, default="letterbox", choices=FIT_MODES)],
      outputs=[Output("video", VIDEO)], uses_all_cores=True)
def crossfade(ctx: Any, first: Video, second: Video, overlap: float, fit: str) -> Video:
    first, second = as_video(first, "first clip"), as_video(second, "second clip")
    fps = first.fps
    _, height, width, channels = first.frames.shape
    second_length = retimed_length(len(second.frames), second.fps, fps)
    overlap_frames = frame_count(overlap, fps, "overlap")
    shorter = min(len(first.frames), second_length)
    if overlap_frames > shorter:
        which = "first" if len(first.frames) == shorter else "second"
        raise NodeFailure(f"the overlap of {overlap:g} s ({overlap_frames} frames) is longer than the {which} clip "
                          f"({shorter / fps:.3g} s); make it at most {shorter / fps:.3g} s")
    kept = len(first.frames) - overlap_frames
    frames = new_frames(kept + second_length, height, width, channels)
    frames[:kept] = first.frames[:kept]
    write_conformed(second, frames[kept:], fit, BLACK, fps)  # converted straight into place
    for offset, weight in enumerate(crossfade_weights(overlap_frames)):
        blend_into(first.frames[kept + offset], frames[kept + offset], float(weight), frames[kept + offset])
    ctx.progress(0.9)
    audio = crossfaded_soundtrack(first, second, fps, len(first.frames), overlap_frames, len(frames))
    return finished(Video(frames, fps, audio))


# ----- cutting and shaping --------------------------------------------------------------------

@node("video.Trim", category="video",
      description="Keeps the part of the clip between 'start' and 'end' seconds (an 'end' of 0 keeps to the "
                  "clip's end), with its sound.",
      inputs=[Input("video", VIDEO),
              _seconds_input("start", 0.0, "Where the kept part begins, in seconds."),
              _seconds_input("end", 0.0, "Where the kept part ends, in seconds from the clip's start; 0 keeps "
                                         "everything after 'start'.")],
      outputs=[Output("video", VIDEO)], light=True)
def trim(ctx: Any, video: Video, start: float, end: float) -> Video:
    video = as_video(video)
    count, fps = len(video.frames), video.fps
    first = round(start * fps)
    last = count if end == 0 else round(end * fps)
    if first >= count:
        raise NodeFailure(f"the trim starts at {start:g} s, at or after the clip's end ({video.duration:.3g} s)")
    if end and end <= start:
        raise NodeFailure(f"the trim ends at {end:g} s, not after its start ({start:g} s); set end after start, "
                          "or to 0 to keep to the clip's end")
    if last > count:
        raise NodeFailure(f"the trim ends at {end:g} s, after the clip's end ({video.duration:.3g} s); set end to "
                          f"at most {video.duration:.3g}, or to 0 to keep to the end")
    if last <= first:
        raise NodeFailure(f"the trim from {start:g} s to {end:g} s keeps less than one frame at {fps:g} fps")
    frames = video.frames[first:last]
    if 2 * len(frames) < count:  # a short piece should not keep the whole clip alive in memory
        frames = frames.copy()
    audio = None
    if video.audio is not None:
        rate = video.audio.rate
        length = sample_at(last / fps, rate) - sample_at(first / fps, rate)
        audio = Audio(converted_samples(video.audio, rate, video.audio.channels, first / fps, length), rate)
    return finished(Video(frames, fps, audio))


@node("video.Resize", category="video",
      description="Changes the clip's frame size. 'stretch' ignores the aspect ratio, 'fit' keeps it inside the "
                  "box, 'fill' covers the box and crops the overflow. A width or height of 0 follows the other.",
      inputs=[Input("video", VIDEO),
              Input("width", INT, default=1280, min=0, max=MAX_SIDE, step=8),
              Input("height", INT, default=720, min=0, max=MAX_SIDE, step=8),
              Input("mode", STRING, default="fill", choices=("stretch", "fit", "fill")),
              Input("interpolation", STRING, default="area", choices=INTERPOLATIONS)],
      outputs=[Output("video", VIDEO)], uses_all_cores=True)
def resize(ctx: Any, video: Video, width: int, height: int, mode: str, interpolation: str) -> Video:
    import cv2

    video = as_video(video)
    count, source_height, source_width, channels = video.frames.shape
    width, height = requested_size(width, height, source_width, source_height)
    if mode == "fit":
        scale = min(width / source_width, height / source_height)
        width, height = max(1, round(source_width * scale)), max(1, round(source_height * scale))
    if (width, height) == (source_width, source_height):
        return video
    where = placement(source_width, source_height, width, height, "stretch" if mode == "fit" else mode)
    x, y, kept_width, kept_height = where.source
    method = _interpolation(interpolation, width * height < kept_width * kept_height)
    frames = new_frames(count, height, width, channels)
    step = _stepper(ctx, count)
    for index in range(count):
        cv2.resize(video.frames[index, y : y + kept_height, x : x + kept_width], (width, height),
                   dst=frames[index], interpolation=method)
        step()
    return finished(Video(frames, video.fps, video.audio))


@node("video.Crop", category="video",
      description="Cuts the same rectangle out of every frame; the parts outside the frame are left off.",
      inputs=[Input("video", VIDEO),
              Input("x", INT, default=0, min=0, max=MAX_SIDE),
              Input("y", INT, default=0, min=0, max=MAX_SIDE),
              Input("width", INT, default=512, min=1, max=MAX_SIDE),
              Input("height", INT, default=512, min=1, max=MAX_SIDE)],
      outputs=[Output("video", VIDEO)])
def crop(ctx: Any, video: Video, x: int, y: int, width: int, height: int) -> Video:
    video = as_video(video)
    _, source_height, source_width, _ = video.frames.shape
    if x >= source_width or y >= source_height:
        raise NodeFailure(f"the crop starts at ({x}, {y}), outside the {source_width}×{source_height} frame")
    if (x, y, width, height) == (0, 0, source_width, source_height):
        return video
    frames = np.ascontiguousarray(video.frames[:, y : y + height, x : x + width])
    return finished(Video(frames, video.fps, video.audio))


def pad_size(source_width: int, source_height: int, width: int, height: int, aspect: str,
             mode: str) -> tuple[int, int]:
    """The frame size Pad makes: the size given, a side and the aspect, or (aspect alone)
    the source grown with bars ('letterbox') or cut down ('fill') to that aspect."""
    if not aspect.strip():
        if not (width and height):
            raise NodeFailure("give a width and a height, or an aspect ratio such as 9:16")
        return width, height
    try:
        ratio = parse_aspect(aspect)
    except ValueError as error:
        raise NodeFailure(str(error)) from None
    if width and height:
        if abs(width / height / ratio - 1) > 0.01:
            raise NodeFailure(f"{width}×{height} is not {aspect.strip()}; set a width or a height and leave the "
                              "other 0, or clear the aspect")
        return width, height
    if width:
        height = max(1, round(width / ratio))
    elif height:
        width = max(1, round(height * ratio))
    elif (source_width / source_height > ratio) == (mode == "letterbox"):
        width, height = source_width, max(1, round(source_width / ratio))
    else:
        width, height = max(1, round(source_height * ratio)), source_height
    require_within("width", width, 1, MAX_SIDE)
    require_within("height", height, 1, MAX_SIDE)
    return width, height


@node("video.Pad", category="video",
      description="Gives the clip another shape, such as 9:16 for social media. 'letterbox' shows the whole "
                  "picture with bars of 'color'; 'fill' covers the frame and crops the overflow. Give a width and "
                  "height, or an aspect with one side (the other follows), or an aspect alone to keep the "
                  "resolution and only add bars (letterbox) or crop (fill).",
      inputs=[Input("video", VIDEO),
              Input("width", INT, default=1080, min=0, max=MAX_SIDE, step=8, description="0 follows the aspect."),
              Input("height", INT, default=1920, min=0, max=MAX_SIDE, step=8, description="0 follows the aspect."),
              Input("aspect", STRING, default="", description="Such as 9:16; empty uses width × height."),
              Input("mode", STRING, default="letterbox", choices=("letterbox", "fill")),
              Input("color", STRING, default="#000000", widget="color", description="The bars' colour.")],
      outputs=[Output("video", VIDEO)], uses_all_cores=True, check=_checks(("color",), ("aspect",)))
def pad(ctx: Any, video: Video, width: int, height: int, aspect: str, mode: str, color: str) -> Video:
    video = as_video(video)
    count, source_height, source_width, channels = video.frames.shape
    width, height = pad_size(source_width, source_height, width, height, aspect, mode)
    if (width, height) == (source_width, source_height):
        return video
    frames = new_frames(count, height, width, channels)
    write_conformed(video, frames, mode, _colour(color), step=_stepper(ctx, count))
    return finished(Video(frames, video.fps, video.audio))


# ----- clips from stills ----------------------------------------------------------------------

@node("video.KenBurns", category="video",
      description="Turns a still into a clip that slowly zooms and pans across it. Zoom 1 shows as much of the "
                  "picture as the frame's shape allows, 2 half as much; the centres are where the view looks "
                  "(0..1 across and down the picture), moved in where the view would leave the picture. The zoom "
                  "changes at an even pace to the eye; 'easing' shapes the move's start and end.",
      inputs=[Input("image", IMAGE), *_size_inputs(),
              _seconds_input("duration", 5.0, "Length of the clip in seconds.", minimum=0.001), _fps_input(),
              Input("start_zoom", FLOAT, default=1.0, min=1.0, max=20.0, step=0.05),
              Input("end_zoom", FLOAT, default=1.2, min=1.0, max=20.0, step=0.05),
              Input("start_x", FLOAT, default=0.5, min=0.0, max=1.0, step=0.01),
              Input("start_y", FLOAT, default=0.5, min=0.0, max=1.0, step=0.01),
              Input("end_x", FLOAT, default=0.5, min=0.0, max=1.0, step=0.01),
              Input("end_y", FLOAT, default=0.5, min=0.0, max=1.0, step=0.01),
              Input("easing", STRING, default="ease_in_out", choices=EASINGS)],
      outputs=[Output("video", VIDEO)], uses_all_cores=True)
def ken_burns(ctx: Any, image: np.ndarray, width: int, height: int, duration: float, fps: float,
              start_zoom: float, end_zoom: float, start_x: float, start_y: float, end_x: float, end_y: float,
              easing: str) -> Video:
    picture = as_image(image)[:, :, :3]
    count = frame_count(duration, fps, "duration")
    frames = new_frames(count, height, width)
    progress = eased(np.linspace(0.0, 1.0, count) if count > 1 else np.zeros(1), easing)
    move = Move(start_zoom * (end_zoom / start_zoom) ** progress, start_x + (end_x - start_x) * progress,
                start_y + (end_y - start_y) * progress)
    ken_burns_frames(picture, move, frames, _stepper(ctx, count))
    return finished(Video(frames, fps))


@node("video.TitleCard", category="video",
      description="A clip of text on a background colour, or on a picture (which fills the card, cropped to its "
                  "shape). Long lines wrap within the margins. The text fades in and out over the background. "
                  "With no font file, Pillow's bundled font is used.",
      inputs=[Input("text", STRING, default="Title", multiline=True), *_size_inputs(),
              _seconds_input("duration", 3.0, "Length of the clip in seconds.", minimum=0.001), _fps_input(),
              Input("font_size", INT, default=72, min=4, max=2048),
              Input("color", STRING, default="#ffffff", widget="color", description="The text's colour."),
              Input("background", STRING, default="#000000", widget="color"),
              Input("align", STRING, default="center", choices=ALIGNMENTS),
              Input("position", STRING, default="middle", choices=POSITIONS),
              _seconds_input("fade_in", 0.5, "Seconds the text takes to appear; 0 = at once."),
              _seconds_input("fade_out", 0.5, "Seconds the text takes to disappear at the end; 0 = at once."),
              Input("font", STRING, default="", widget="file", description="A .ttf or .otf file; empty = built-in."),
              Input("background_image", IMAGE, optional=True)],
      outputs=[Output("video", VIDEO)], check=_checks(("color", "background")))
def title_card(ctx: Any, text: str, width: int, height: int, duration: float, fps: float, font_size: int,
               color: str, background: str, align: str, position: str, fade_in: float, fade_out: float, font: str,
               background_image: Any = None) -> Video:
    count = frame_count(duration, fps, "duration")
    if fade_in + fade_out > count / fps + 1e-9:
        raise NodeFailure(f"the fades ({fade_in:g} s in and {fade_out:g} s out) take longer than the card "
                          f"({count / fps:.3g} s); shorten them or lengthen the card")
    frames = new_frames(count, height, width)
    if background_image is not None:
        backdrop = fitted_picture(as_image(background_image, "background image"), width, height, "fill")
    else:
        backdrop = np.empty((height, width, 3), dtype=np.uint8)
        backdrop[:] = _colour(background)
    coverage = text_mask(text, width, height, load_font(font, font_size), align, position)
    ink = np.asarray(_colour(color), dtype=np.float32)
    weight = coverage[:, :, None].astype(np.float32) / 255.0
    lettered = np.clip(backdrop + (ink - backdrop) * weight + 0.5, 0, 255).astype(np.uint8)
    for index, level in enumerate(fade_levels(count, fps, fade_in, fade_out)):
        if level >= 1.0:
            frames[index] = lettered
        elif level <= 0.0:
            frames[index] = backdrop
        else:
            blend_into(backdrop, lettered, float(level), frames[index])
    ctx.progress(1.0)
    return finished(Video(frames, fps))


@node("video.FromImages", category="video",
      description="Makes a clip from pictures: link 'images' (a sequence or a batch) or one 'image'. Each picture "
                  "shows for 'duration' seconds; 0 shows each for one frame, as an image sequence. Pictures of "
                  "another size are letterboxed into the first one's size; transparency is dropped.",
      inputs=[Input("images", IMAGES, optional=True), Input("image", IMAGE, optional=True),
              _seconds_input("duration", 0.0, "Seconds each picture shows; 0 = one frame each."), _fps_input()],
      outputs=[Output("video", VIDEO)])
def from_images(ctx: Any, fps: float, duration: float, images: Any = None, image: Any = None) -> Video:
    if images is not None and image is not None:
        raise NodeFailure("link either 'images' or 'image', not both")
    if image is not None:
        pictures = [image]
    elif isinstance(images, (list, tuple)):
        pictures = list(images)
    else:
        raise NodeFailure("link pictures to 'images' or one picture to 'image'" if images is None else
                          f"'images' should be a list of pictures, not {type(images).__name__}")
    if not pictures:
        raise NodeFailure("the list of pictures is empty")
    pictures = [as_image(picture, f"picture {number}") for number, picture in enumerate(pictures, 1)]
    height, width = pictures[0].shape[:2]
    if duration > 0:
        if duration * fps < 1:
            raise NodeFailure(f"each picture would show for {duration:g} s, less than one frame at {fps:g} fps; "
                              f"make the duration at least {1 / fps:.3g} s")
        bounds = [round(number * duration * fps) for number in range(len(pictures) + 1)]
    else:
        bounds = list(range(len(pictures) + 1))
    frames = new_frames(bounds[-1], height, width)
    for number, picture in enumerate(pictures):
        frames[bounds[number] : bounds[number + 1]] = fitted_picture(picture, width, height, "letterbox")
        ctx.progress((number + 1) / len(pictures))
    return finished(Video(frames, fps))


@node("video.Frame", category="video",
      description="Takes one frame out of a clip as a picture: by its number ('index', counted from 0; -1 is the "
                  "last) or by the time it shows ('time' in seconds).",
      inputs=[Input("video", VIDEO),
              Input("by", STRING, default="index", choices=("index", "time")),
              Input("index", INT, default=0, min=-1_000_000, max=1_000_000),
              _seconds_input("time", 0.0, "Used when 'by' is time.")],
      outputs=[Output("image", IMAGE)], light=True)
def frame(ctx: Any, video: Video, by: str, index: int, time: float) -> np.ndarray:
    video = as_video(video)
    count = len(video.frames)
    if by == "time":
        if time > video.duration:
            raise NodeFailure(f"{time:g} s is after the clip's end ({video.duration:.3g} s)")
        chosen = min(count - 1, math.floor(time * video.fps + 1e-9))
    else:
        if not -count <= index < count:
            raise NodeFailure(f"the clip has {count} frames (0 to {count - 1}); there is no frame {index}")
        chosen = index % count
    return video.frames[chosen].copy()
