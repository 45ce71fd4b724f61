"""Workflows carried inside PNG files: image.Save writes the graph that made the
picture into a text chunk, and dropping the PNG back into Reelgraph restores it."""

from __future__ import annotations

import io
from typing import Any, Mapping

from nodes.problems import Problem, WorkflowError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The PNG text keyword under which the workflow JSON is stored.
PNG_KEY = "reelgraph.workflow"


def png_text_chunks(workflow: Mapping[str, Any] | None) -> Any:
    """A Pillow ``PngInfo`` holding ``workflow`` (compressed, UTF-8), ready for ``save``."""
    from PIL.PngImagePlugin import PngInfo

    from nodes.graph import json_text

    info = PngInfo()
    if workflow is not None:
        info.add_itxt(PNG_KEY, json_text(workflow, separators=(",", ":")), zip=True)
    return info


def read_png_workflow(data: bytes, source: str = "") -> Any:
    """The parsed workflow document stored in PNG bytes; WorkflowError when absent or broken."""
    from PIL import Image, UnidentifiedImageError

    from nodes.graph import parse_json

    try:
        with Image.open(io.BytesIO(data)) as picture:
            text = picture.info.get(PNG_KEY)
            if text is None:
                picture.load()
                text = getattr(picture, "text", {}).get(PNG_KEY)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise WorkflowError(
            [Problem(f"the PNG is damaged and cannot be read ({error})", code="malformed-document")], source
        ) from None
    if text is None:
        raise WorkflowError(
            [Problem(
                "this PNG carries no Reelgraph workflow",
                fix="open a PNG saved by Reelgraph's image.Save node, or the workflow JSON itself",
                code="malformed-document",
            )],
            source,
        )
    return parse_json(text, source)
