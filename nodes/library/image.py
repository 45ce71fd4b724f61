"""Still images: load, make, change and save them.

Images are ``uint8`` arrays, height × width × channels (RGB, or RGBA where a node
keeps transparency); masks are ``uint8`` height × width, 255 = selected.
OpenCV and Pillow are imported inside the functions, so listing nodes stays fast.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping

import numpy as np

from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import FLOAT, IMAGE, INT, MASK, STRING, describe_value

MAX_SIDE = 16384
MAX_BLUR_RADIUS = 512.0
INTERPOLATIONS = ("area", "bilinear", "bicubic", "lanczos", "nearest")
BLEND_MODES = ("normal", "multiply", "screen", "add", "difference", "overlay")


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#00ffea', '#0fe', 'teal' or 'rgb(0, 255, 234)' -> (0, 255, 234); ValueError otherwise."""
    from PIL import ImageColor

    try:
        colour = ImageColor.getrgb(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(f"{text!r} is not a colour; write it as #rrggbb or a name such as 'teal'") from None
    return colour[0], colour[1], colour[2]


def as_image(value: Any, what: str = "image") -> np.ndarray:
    """Check that a linked value really is an image array; say so in words when not."""
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.ndim != 3 \
            or value.shape[2] not in (3, 4) or value.shape[0] == 0 or value.shape[1] == 0:
        described = getattr(value, "shape", type(value).__name__)
        raise NodeFailure(f"the {what} is not an RGB/RGBA picture (got {described})")
    return value


def require_within(what: str, value: float, low: float, high: float) -> None:
    """Hold a size the node derives itself to its limits (the executor checks the
    inputs, typed-in or linked, against the spec); past them it would exhaust memory."""
    if not low <= value <= high:
        raise NodeFailure(f"the {what} is {describe_value(value)}, outside the allowed {low} to {high}")


def _file_fingerprint(constants: Mapping[str, Any]) -> Any:
    """Re-load when the file on disk changes (size or modification time)."""
    path = constants.get("path")
    if not isinstance(path, str):
        return secrets.token_hex(8)  # a linked path: cannot tell, so always load
    try:
        status = os.stat(path)
    except OSError:
        return "missing"
    return (status.st_size, status.st_mtime_ns)


@node("image.Load", category="image",
      description="Loads a picture from a file (PNG, JPEG, WebP, ...). Transparent pixels become the mask.",
      inputs=[Input("path", STRING, default="", widget="file")],
      outputs=[Output("image", IMAGE), Output("mask", MASK), Output("width", INT), Output("height", INT)],
      fingerprint=_file_fingerprint)
def load(ctx: Any, path: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path:
        raise NodeFailure("no file chosen; pick an image file for 'path'")
    file_path = Path(path).expanduser()
    if not file_path.is_file():
        raise NodeFailure(f"image file not found: {file_path}")
    try:
        with Image.open(file_path) as picture:
            picture = ImageOps.exif_transpose(picture)
            has_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
            if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(picture, dtype=np.float64)
                # 16-bit modes always use the full 16-bit range, however dark the picture;
                # a 32-bit "I" picture says nothing about its range, so guess from its values.
                scale = 65535.0 if picture.mode.startswith("I;16") or wide.max() > 255 else 255.0
                picture = Image.fromarray(np.clip(wide / scale * 255.0, 0, 255).astype(np.uint8))
            rgba = np.asarray(picture.convert("RGBA" if has_alpha else "RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise NodeFailure(f"cannot read {file_path.name}: it is damaged or not a picture ({error})") from None
    except Image.DecompressionBombError as error:
        raise NodeFailure(f"{file_path.name} is too large to open safely ({error})") from None
    image = np.ascontiguousarray(rgba[:, :, :3])
    if has_alpha:
        mask = np.ascontiguousarray(255 - rgba[:, :, 3])
    else:
        mask = np.zeros(image.shape[:2], dtype=np.uint8)
    return image, mask, int(image.shape[1]), int(image.shape[0])


def _safe_prefix(prefix: str) -> PurePosixPath:
    """A file name prefix may name sub-folders, but never leave the output folder."""
    cleaned = PurePosixPath(prefix.replace("\\", "/").strip() or "reelgraph")
    if cleaned.is_absolute() or ".." in cleaned.parts:
        raise NodeFailure(f"the file name prefix {prefix!r} must stay inside the output folder")
    if any(not part or part.startswith(".") for part in cleaned.parts):
        raise NodeFailure(f"the file name prefix {prefix!r} has an empty or hidden folder name")
    return cleaned


@node("image.Save", category="image",
      description="Saves the picture as a PNG in the output folder, with the workflow inside it: "
                  "drop the PNG back into Reelgraph to get the graph that made it.",
      inputs=[Input("image", IMAGE),
              Input("filename_prefix", STRING, default="reelgraph"),
              Input("embed_workflow", "BOOLEAN", default=True)],
      outputs=[Output("path", STRING)], output=True)
def save(ctx: Any, image: np.ndarray, filename_prefix: str, embed_workflow: bool = True) -> str:
    from PIL import Image

    from nodes.atomic_write import create_exclusively
    from nodes.png_workflow import png_text_chunks

    image = as_image(image)
    prefix = _safe_prefix(filename_prefix)
    ctx.check_cancelled()
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer, format="PNG", pnginfo=png_text_chunks(ctx.workflow if embed_workflow else None), compress_level=4
    )
    folder = Path(ctx.output_dir) / prefix.parent
    written = create_exclusively(folder, prefix.name, ".png", buffer.getvalue())
    ctx.progress(1.0)
    return str(written)


@node("image.Preview", category="image",
      description="Shows the picture in the viewer without saving a file.",
      inputs=[Input("image", IMAGE)], outputs=[Output("image", IMAGE)], output=True, light=True)
def preview(ctx: Any, image: np.ndarray) -> np.ndarray:
    return as_image(image)


def _check_colour(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    colour = constants.get("color")
    if isinstance(colour, str):
        try:
            parse_colour(colour)
        except ValueError as error:
            yield "color", str(error), "write the colour as #rrggbb, or a name such as 'teal'"


@node("image.Solid", category="image", description="A picture of one colour, as a background or a mask base.",
      inputs=[Input("width", INT, default=512, min=1, max=MAX_SIDE, step=8),
              Input("height", INT, default=512, min=1, max=MAX_SIDE, step=8),
              Input("color", STRING, default="#00ffea", widget="color")],
      outputs=[Output("image", IMAGE)], check=_check_colour)
def solid(ctx: Any, width: int, height: int, color: str) -> np.ndarray:
    try:
        rgb = parse_colour(color)
    except ValueError as error:
        raise NodeFailure(str(error)) from None
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = rgb
    return image


def requested_size(width: int, height: int, source_width: int, source_height: int) -> tuple[int, int]:
    """The size a resize asks for, where a width or height of 0 follows the other side's
    change so the aspect ratio is kept."""
    if width == 0 and height == 0:
        raise NodeFailure("width and height are both 0; set at least one of them")
    if width == 0:
        width = max(1, round(source_width * height / source_height))
        require_within("width that keeps the aspect ratio", width, 1, MAX_SIDE)
    if height == 0:
        height = max(1, round(source_height * width / source_width))
        require_within("height that keeps the aspect ratio", height, 1, MAX_SIDE)
    return width, height


def _interpolation(name: str, shrinking: bool) -> int:
    import cv2

    if name == "area" and not shrinking:
        return cv2.INTER_CUBIC  # area is for shrinking; enlarging with it is blocky
    return {
        "area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
        "lanczos": cv2.INTER_LANCZOS4, "nearest": cv2.INTER_NEAREST,
    }[name]


@node("image.Resize", category="image",
      description="Changes the picture's size. 'stretch' ignores the aspect ratio, 'fit' keeps it inside the "
                  "box, 'fill' covers the box and crops the overflow. A width or height of 0 follows the other.",
      inputs=[Input("image", IMAGE),
              Input("width", INT, default=512, min=0, max=MAX_SIDE, step=8),
              Input("height", INT, default=512, min=0, max=MAX_SIDE, step=8),
              Input("mode", STRING, default="stretch", choices=("stretch", "fit", "fill")),
              Input("interpolation", STRING, default="area", choices=INTERPOLATIONS)],
      outputs=[Output("image", IMAGE)], uses_all_cores=True)
def resize(ctx: Any, image: np.ndarray, width: int, height: int, mode: str, interpolation: str) -> np.ndarray:
    import cv2

    image = as_image(image)
    source_height, source_width = image.shape[:2]
    width, height = requested_size(width, height, source_width, source_height)
    if mode == "stretch":
        target = (width, height)
    else:
        scale = (min if mode == "fit" else max)(width / source_width, height / source_height)
        target = (max(1, round(source_width * scale)), max(1, round(source_height * scale)))
    shrinking = target[0] * target[1] < source_width * source_height
    result = cv2.resize(image, target, interpolation=_interpolation(interpolation, shrinking))
    if mode == "fill":
        left = (target[0] - width) // 2
        top = (target[1] - height) // 2
        result = np.ascontiguousarray(result[top : top + height, left : left + width])
    return result


@node("image.Crop", category="image",
      description="Cuts out a rectangle; the parts outside the picture are left off.",
      inputs=[Input("image", IMAGE),
              Input("x", INT, default=0, min=0, max=MAX_SIDE),
              Input("y", INT, default=0, min=0, max=MAX_SIDE),
              Input("width", INT, default=512, min=1, max=MAX_SIDE),
              Input("height", INT, default=512, min=1, max=MAX_SIDE)],
      outputs=[Output("image", IMAGE)], light=True)
def crop(ctx: Any, image: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    image = as_image(image)
    source_height, source_width = image.shape[:2]
    if x >= source_width or y >= source_height:
        raise NodeFailure(
            f"the crop starts at ({x}, {y}), outside the {source_width}×{source_height} picture"
        )
    return np.ascontiguousarray(image[y : min(y + height, source_height), x : min(x + width, source_width)])


@node("image.Blur", category="image", description="Softens the picture with a Gaussian blur.",
      inputs=[Input("image", IMAGE), Input("radius", FLOAT, default=4.0, min=0.0, max=MAX_BLUR_RADIUS, step=0.5)],
      outputs=[Output("image", IMAGE)], uses_all_cores=True)
def blur(ctx: Any, image: np.ndarray, radius: float) -> np.ndarray:
    import cv2

    image = as_image(image)
    if radius == 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(radius), sigmaY=float(radius),
                            borderType=cv2.BORDER_REFLECT_101)


def _matched(base: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """The overlay at the base's size, so pictures of different sizes still blend."""
    import cv2

    if overlay.shape[:2] != base.shape[:2]:
        overlay = cv2.resize(overlay, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_AREA)
    return overlay


@node("image.Blend", category="image",
      description="Lays one picture over another. The overlay is resized to the base; its transparency is kept.",
      inputs=[Input("base", IMAGE), Input("overlay", IMAGE),
              Input("factor", FLOAT, default=0.5, min=0.0, max=1.0, step=0.01),
              Input("mode", STRING, default="normal", choices=BLEND_MODES)],
      outputs=[Output("image", IMAGE)])
def blend(ctx: Any, base: np.ndarray, overlay: np.ndarray, factor: float, mode: str) -> np.ndarray:
    base = as_image(base, "base")
    overlay = _matched(base, as_image(overlay, "overlay"))
    bottom = base[:, :, :3].astype(np.float32) / 255.0
    top = overlay[:, :, :3].astype(np.float32) / 255.0
    if mode == "multiply":
        mixed = bottom * top
    elif mode == "screen":
        mixed = 1.0 - (1.0 - bottom) * (1.0 - top)
    elif mode == "add":
        mixed = np.minimum(bottom + top, 1.0)
    elif mode == "difference":
        mixed = np.abs(bottom - top)
    elif mode == "overlay":
        mixed = np.where(bottom < 0.5, 2 * bottom * top, 1.0 - 2 * (1.0 - bottom) * (1.0 - top))
    else:
        mixed = top
    weight = np.float32(factor)
    if overlay.shape[2] == 4:
        weight = weight * (overlay[:, :, 3:4].astype(np.float32) / 255.0)
    result = bottom + (mixed - bottom) * weight
    rgb = np.clip(result * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if base.shape[2] == 4:
        return np.concatenate([rgb, base[:, :, 3:4]], axis=2)
    return rgb
