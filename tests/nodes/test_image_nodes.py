"""The picture nodes as a creator uses them, through the real executor: make, load,
resize, crop, blur, blend and save, with the workflow travelling inside the PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

from gpu.events import RunResult
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.problems import WorkflowError
from nodes.registry import NodeRegistry

Run = Callable[..., RunResult]


def horizontal_ramp(width: int = 64, height: int = 32) -> np.ndarray:
    """Brightness grows left to right (x * 4), so a crop or a resize shows where it came from."""
    row = (np.arange(width) * 4).clip(0, 255).astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], height, axis=0), 3, axis=2)


def write_picture(path: Path, pixels: np.ndarray, **options: Any) -> str:
    Image.fromarray(pixels).save(path, **options)
    return str(path)


def loaded(path: str, then: dict[str, Any] | None = None) -> dict[str, Any]:
    """A workflow that loads ``path`` and, optionally, feeds its image to one more node."""
    nodes: dict[str, Any] = {"load": {"type": "image.Load", "inputs": {"path": path}}}
    if then is not None:
        kind, inputs = then["type"], dict(then.get("inputs", {}))
        inputs.setdefault("image", ["load", "image"])
        nodes["step"] = {"type": kind, "inputs": inputs}
    return nodes


def picture_after(run_nodes: Run, source: np.ndarray, tmp_path: Path, node_type: str, **inputs: Any) -> np.ndarray:
    path = write_picture(tmp_path / "source.png", source)
    result = run_nodes(loaded(path, {"type": node_type, "inputs": inputs}))
    assert result.ok, result.errors
    return result.output("step", "image")


def failure_of(result: RunResult, node_id: str) -> str:
    assert node_id in result.errors, f"{node_id} should have failed; it gave {result.outputs.get(node_id)}"
    return result.errors[node_id].message


# ----- Solid -----------------------------------------------------------------------------------

@pytest.mark.parametrize("colour, rgb", [("#102030", (16, 32, 48)), ("#abc", (170, 187, 204)),
                                         ("  #FFFFFF ", (255, 255, 255)), ("teal", (0, 128, 128))])
def test_solid_makes_a_picture_of_one_colour(run_nodes: Run, colour: str, rgb: tuple[int, int, int]) -> None:
    result = run_nodes({"fill": {"type": "image.Solid", "inputs": {"width": 8, "height": 4, "color": colour}}})
    image = result.output("fill")
    assert image.shape == (4, 8, 3) and image.dtype == np.uint8
    assert (image.reshape(-1, 3) == rgb).all()


# ----- Resize ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, width, height, shape", [
    ("stretch", 16, 16, (16, 16, 3)),
    ("fit", 16, 16, (8, 16, 3)),
    ("fill", 16, 16, (16, 16, 3)),
    ("stretch", 32, 0, (16, 32, 3)),
    ("fit", 0, 8, (8, 16, 3)),
    ("stretch", 200, 100, (100, 200, 3)),
])
def test_resize_modes_give_the_expected_size(run_nodes: Run, tmp_path: Path, mode: str, width: int, height: int,
                                             shape: tuple[int, int, int]) -> None:
    image = picture_after(run_nodes, horizontal_ramp(64, 32), tmp_path, "image.Resize",
                          width=width, height=height, mode=mode)
    assert image.shape == shape


def test_resize_fill_crops_the_overflow_evenly_from_both_sides(run_nodes: Run, tmp_path: Path) -> None:
    # 64×32 scaled by 0.5 is 32×16; filling 16×16 keeps source columns 16..47.
    image = picture_after(run_nodes, horizontal_ramp(64, 32), tmp_path, "image.Resize",
                          width=16, height=16, mode="fill", interpolation="bilinear")
    assert 56 <= image[8, 0, 0] <= 76
    assert 176 <= image[8, -1, 0] <= 196


def test_resize_fit_keeps_the_aspect_ratio_of_a_tall_picture(run_nodes: Run, tmp_path: Path) -> None:
    image = picture_after(run_nodes, horizontal_ramp(30, 90), tmp_path, "image.Resize",
                          width=60, height=60, mode="fit", interpolation="lanczos")
    assert image.shape == (60, 20, 3)


def test_resize_with_width_and_height_both_zero_fails_clearly(run_nodes: Run, tmp_path: Path) -> None:
    path = write_picture(tmp_path / "source.png", horizontal_ramp())
    result = run_nodes(loaded(path, {"type": "image.Resize", "inputs": {"width": 0, "height": 0}}))
    assert "width and height are both 0" in failure_of(result, "step")


# ----- Crop ------------------------------------------------------------------------------------

def test_crop_cuts_out_the_rectangle(run_nodes: Run, tmp_path: Path) -> None:
    source = horizontal_ramp(64, 32)
    image = picture_after(run_nodes, source, tmp_path, "image.Crop", x=10, y=4, width=20, height=8)
    assert image.shape == (8, 20, 3)
    assert np.array_equal(image, source[4:12, 10:30])


def test_crop_past_the_edge_keeps_only_what_is_inside(run_nodes: Run, tmp_path: Path) -> None:
    source = horizontal_ramp(64, 32)
    image = picture_after(run_nodes, source, tmp_path, "image.Crop", x=48, y=16, width=512, height=512)
    assert image.shape == (16, 16, 3)
    assert np.array_equal(image, source[16:, 48:])


def test_crop_starting_outside_the_picture_fails_and_says_where(run_nodes: Run, tmp_path: Path) -> None:
    path = write_picture(tmp_path / "source.png", horizontal_ramp(64, 32))
    result = run_nodes(loaded(path, {"type": "image.Crop", "inputs": {"x": 64, "y": 0}}))
    assert failure_of(result, "step") == "the crop starts at (64, 0), outside the 64×32 picture"


# ----- Blur ------------------------------------------------------------------------------------

def checkerboard(size: int = 32) -> np.ndarray:
    cells = (np.indices((size, size)).sum(axis=0) % 2 * 255).astype(np.uint8)
    return np.repeat(cells[:, :, None], 3, axis=2)


def test_blur_softens_the_picture_but_keeps_its_size_and_brightness(run_nodes: Run, tmp_path: Path) -> None:
    source = checkerboard()
    image = picture_after(run_nodes, source, tmp_path, "image.Blur", radius=3.0)
    assert image.shape == source.shape
    assert image.std() < source.std() / 4
    assert abs(float(image.mean()) - float(source.mean())) < 3


def test_blur_with_radius_zero_changes_nothing(run_nodes: Run, tmp_path: Path) -> None:
    source = checkerboard()
    assert np.array_equal(picture_after(run_nodes, source, tmp_path, "image.Blur", radius=0.0), source)


# ----- Blend -----------------------------------------------------------------------------------

BASE = np.array([100, 150, 200]) / 255.0
TOP = np.array([50, 100, 250]) / 255.0
BLENDED = {
    "normal": TOP,
    "multiply": BASE * TOP,
    "screen": 1 - (1 - BASE) * (1 - TOP),
    "add": np.minimum(BASE + TOP, 1.0),
    "difference": np.abs(BASE - TOP),
    "overlay": np.where(BASE < 0.5, 2 * BASE * TOP, 1 - 2 * (1 - BASE) * (1 - TOP)),
}


def blend_workflow(mode: str, factor: float, overlay_size: tuple[int, int] = (8, 4)) -> dict[str, Any]:
    return {
        "base": {"type": "image.Solid", "inputs": {"width": 8, "height": 4, "color": "#6496c8"}},
        "top": {"type": "image.Solid", "inputs": {"width": overlay_size[0], "height": overlay_size[1],
                                                  "color": "#3264fa"}},
        "mix": {"type": "image.Blend", "inputs": {"base": ["base", "image"], "overlay": ["top", "image"],
                                                  "mode": mode, "factor": factor}},
    }


@pytest.mark.parametrize("mode", sorted(BLENDED))
def test_blend_modes_at_full_strength(run_nodes: Run, mode: str) -> None:
    image = run_nodes(blend_workflow(mode, 1.0)).output("mix")
    expected = np.round(BLENDED[mode] * 255)
    assert image.shape == (4, 8, 3)
    assert np.abs(image[0, 0].astype(int) - expected).max() <= 1


@pytest.mark.parametrize("factor", [0.0, 0.25, 0.5])
def test_blend_factor_mixes_between_base_and_result(run_nodes: Run, factor: float) -> None:
    image = run_nodes(blend_workflow("multiply", factor)).output("mix")
    expected = np.round((BASE + (BLENDED["multiply"] - BASE) * factor) * 255)
    assert np.abs(image[0, 0].astype(int) - expected).max() <= 1


def test_blend_resizes_an_overlay_of_another_size_to_the_base(run_nodes: Run) -> None:
    result = run_nodes(blend_workflow("normal", 1.0, overlay_size=(3, 17)))
    assert result.ok
    image = result.output("mix")
    assert image.shape == (4, 8, 3)
    assert (image.reshape(-1, 3) == (50, 100, 250)).all()


# ----- Load ------------------------------------------------------------------------------------

def load_outputs(run_nodes: Run, path: str) -> dict[str, Any]:
    result = run_nodes({"load": {"type": "image.Load", "inputs": {"path": path}}})
    assert result.ok, result.errors
    return result.outputs["load"]


def test_load_png_gives_the_exact_pixels_and_an_empty_mask(run_nodes: Run, tmp_path: Path) -> None:
    source = horizontal_ramp(20, 10)
    outputs = load_outputs(run_nodes, write_picture(tmp_path / "ramp.png", source))
    assert np.array_equal(outputs["image"], source)
    assert outputs["mask"].shape == (10, 20) and not outputs["mask"].any()
    assert (outputs["width"], outputs["height"]) == (20, 10)


def test_load_jpeg_gives_nearly_the_same_pixels(run_nodes: Run, tmp_path: Path) -> None:
    source = np.full((16, 24, 3), (200, 120, 40), dtype=np.uint8)
    outputs = load_outputs(run_nodes, write_picture(tmp_path / "photo.jpg", source, quality=95))
    assert outputs["image"].shape == (16, 24, 3)
    assert np.abs(outputs["image"].astype(int) - source).max() <= 4


def test_load_rgba_png_turns_transparency_into_the_mask(run_nodes: Run, tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 20, 30)
    rgba[..., 3] = np.arange(16).reshape(4, 4) * 17  # 0 (clear) .. 255 (solid)
    outputs = load_outputs(run_nodes, write_picture(tmp_path / "cutout.png", rgba))
    assert outputs["image"].shape == (4, 4, 3)
    assert (outputs["image"].reshape(-1, 3) == (10, 20, 30)).all()
    assert np.array_equal(outputs["mask"], 255 - rgba[..., 3])


def test_load_palette_png_with_a_transparent_colour_masks_it(run_nodes: Run, tmp_path: Path) -> None:
    palette = Image.new("P", (4, 2), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((3, 1), 1)
    path = tmp_path / "palette.png"
    palette.save(path, transparency=1)
    outputs = load_outputs(run_nodes, str(path))
    expected_mask = np.zeros((2, 4), dtype=np.uint8)
    expected_mask[1, 3] = 255
    assert np.array_equal(outputs["mask"], expected_mask)
    assert tuple(outputs["image"][0, 0]) == (255, 0, 0)


@pytest.mark.parametrize("value, expected", [(0, 0), (65535, 255), (32896, 128), (257, 1)])
def test_load_16_bit_png_scales_to_8_bits(run_nodes: Run, tmp_path: Path, value: int, expected: int) -> None:
    wide = np.full((3, 5), value, dtype=np.uint16)
    outputs = load_outputs(run_nodes, write_picture(tmp_path / "depth.png", wide))
    assert outputs["image"].shape == (3, 5, 3)
    assert abs(int(outputs["image"].max()) - expected) <= 1 and abs(int(outputs["image"].min()) - expected) <= 1


def test_load_of_a_dark_16_bit_png_stays_dark(run_nodes: Run, tmp_path: Path) -> None:
    """A 16-bit picture whose brightest pixel is 189 of 65535 is nearly black, not bright."""
    wide = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 3)
    outputs = load_outputs(run_nodes, write_picture(tmp_path / "night.png", wide))
    assert outputs["image"].max() <= 1


def test_load_of_a_missing_file_names_the_file(run_nodes: Run, tmp_path: Path) -> None:
    missing = tmp_path / "holiday" / "fox.png"
    result = run_nodes({"load": {"type": "image.Load", "inputs": {"path": str(missing)}}})
    assert failure_of(result, "load") == f"image file not found: {missing}"


def test_load_with_no_file_chosen_says_so(run_nodes: Run) -> None:
    result = run_nodes({"load": {"type": "image.Load", "inputs": {"path": ""}}})
    assert "no file chosen" in failure_of(result, "load")


@pytest.mark.parametrize("content", [b"this is not a picture at all", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00"])
def test_load_of_a_damaged_file_names_the_file(run_nodes: Run, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "damaged.png"
    path.write_bytes(content)
    message = failure_of(run_nodes({"load": {"type": "image.Load", "inputs": {"path": str(path)}}}), "load")
    assert message.startswith("cannot read damaged.png: it is damaged or not a picture")


def test_load_of_a_truncated_png_fails_cleanly(run_nodes: Run, tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    write_picture(path, (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8))
    path.write_bytes(path.read_bytes()[:400])
    message = failure_of(run_nodes({"load": {"type": "image.Load", "inputs": {"path": str(path)}}}), "load")
    assert "cut.png" in message


def test_load_reads_the_file_again_after_it_changed(run_nodes: Run, tmp_path: Path) -> None:
    path = tmp_path / "live.png"
    write_picture(path, np.zeros((2, 2, 3), dtype=np.uint8))
    workflow = {"load": {"type": "image.Load", "inputs": {"path": str(path)}}}
    assert run_nodes(workflow).output("load").max() == 0
    assert run_nodes(workflow).cached == ["load"]
    write_picture(path, np.full((2, 3, 3), 255, dtype=np.uint8))
    os.utime(path, ns=(1, 1))  # make sure the modification time differs even on coarse clocks
    changed = run_nodes(workflow)
    assert changed.executed == ["load"] and changed.output("load").shape == (2, 3, 3)


# ----- Save ------------------------------------------------------------------------------------

def save_workflow(prefix: str = "fox", embed: bool = True) -> Graph:
    graph = Graph()
    picture = graph.add("image.Solid", {"width": 6, "height": 4, "color": "#ff8000"}, node_id="picture",
                        title="Orange \ud83d")
    graph.add("image.Save", {"image": (picture, "image"), "filename_prefix": prefix, "embed_workflow": embed},
              node_id="save")
    return graph


def test_save_writes_a_numbered_png_with_the_picture(run_nodes: Run, output_folder: Path) -> None:
    result = run_nodes(save_workflow())
    path = Path(result.output("save", "path"))
    assert path == output_folder / "fox_00001.png"
    with Image.open(path) as picture:
        assert np.array_equal(np.asarray(picture), np.full((4, 6, 3), (255, 128, 0), dtype=np.uint8))


def test_save_never_overwrites_an_existing_picture(registry: NodeRegistry, output_folder: Path) -> None:
    output_folder.mkdir(parents=True)
    (output_folder / "fox_00001.png").write_bytes(b"first")
    (output_folder / "fox_00007.png").write_bytes(b"seventh")
    (output_folder / "fox_notes.png").write_bytes(b"not numbered")
    written = []
    for _ in range(2):  # a fresh executor each time, so nothing comes from the cache
        with Executor(registry, output_dir=output_folder) as executor:
            written.append(Path(executor.run(save_workflow()).output("save", "path")).name)
    assert written == ["fox_00008.png", "fox_00009.png"]
    assert (output_folder / "fox_00001.png").read_bytes() == b"first"
    assert (output_folder / "fox_00007.png").read_bytes() == b"seventh"
    assert not [name for name in os.listdir(output_folder) if name.endswith(".tmp")]


def test_two_save_nodes_in_one_run_write_two_files(run_nodes: Run, output_folder: Path) -> None:
    graph = save_workflow()
    graph.add("image.Save", {"image": ("picture", "image"), "filename_prefix": "fox"}, node_id="save-again")
    result = run_nodes(graph)
    assert {Path(result.output(node, "path")).name for node in ("save", "save-again")} == {
        "fox_00001.png", "fox_00002.png"}


def test_saved_png_opens_as_the_workflow_that_made_it(run_nodes: Run) -> None:
    graph = save_workflow()
    path = run_nodes(graph).output("save", "path")
    reopened = Graph.load(path)
    assert reopened.to_dict() == graph.to_dict()
    assert reopened.nodes["picture"].title == "Orange \ud83d"


def test_png_saved_without_the_workflow_gives_a_clear_error(run_nodes: Run) -> None:
    path = run_nodes(save_workflow(embed=False)).output("save", "path")
    with pytest.raises(WorkflowError, match="this PNG carries no Reelgraph workflow") as caught:
        Graph.load(path)
    assert caught.value.problems[0].fix


def test_an_ordinary_png_is_not_mistaken_for_a_workflow(tmp_path: Path) -> None:
    path = write_picture(tmp_path / "holiday.png", horizontal_ramp())
    with pytest.raises(WorkflowError, match="carries no Reelgraph workflow"):
        Graph.load(path)


def test_a_damaged_png_says_it_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "torn.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(WorkflowError, match="the PNG is damaged"):
        Graph.load(path)


def test_save_into_a_subfolder_of_the_output_folder(run_nodes: Run, output_folder: Path) -> None:
    path = run_nodes(save_workflow("shots/day 1/fox")).output("save", "path")
    assert Path(path) == output_folder / "shots" / "day 1" / "fox_00001.png"


@pytest.mark.parametrize("prefix", ["../x", "shots/../../x", "/tmp/x", "..\\x", ".hidden/x"])
def test_a_prefix_that_would_leave_the_output_folder_is_refused(run_nodes: Run, tmp_path: Path,
                                                               prefix: str) -> None:
    before = sorted(tmp_path.rglob("*"))
    result = run_nodes(save_workflow(prefix))
    assert "prefix" in failure_of(result, "save")
    assert sorted(tmp_path.rglob("*png")) == [] and sorted(tmp_path.rglob("*")) == before


# ----- linked values past a node's limits ---------------------------------------------------------

def test_blur_with_a_linked_radius_past_the_limit_fails_fast_instead_of_hanging(run_nodes: Run) -> None:
    """A typed-in radius of 5000 is refused by validation; the same value from a link must not
    make OpenCV grind through a 30001-pixel kernel."""
    result = run_nodes({
        "radius": {"type": "core.Float", "inputs": {"value": 5000.0}},
        "picture": {"type": "image.Solid", "inputs": {"width": 64, "height": 64}},
        "blur": {"type": "image.Blur", "inputs": {"image": ["picture", "image"], "radius": ["radius", "value"]}},
    })
    assert failure_of(result, "blur") == "input 'radius' got a value from its link that is 5000.0, above the maximum 512.0"
    assert result.timings["blur"] < 1.0


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (-4, 8), (8, 0)])
def test_solid_with_a_linked_size_past_the_limit_fails_instead_of_exhausting_memory(
        run_nodes: Run, width: int, height: int) -> None:
    result = run_nodes({
        "width": {"type": "core.Int", "inputs": {"value": width}},
        "height": {"type": "core.Int", "inputs": {"value": height}},
        "picture": {"type": "image.Solid", "inputs": {"width": ["width", "value"], "height": ["height", "value"]}},
    })
    message = failure_of(result, "picture")
    assert "got a value from its link that is" in message
    assert "above the maximum 16384" in message or "below the minimum 1" in message


def test_resize_keeping_the_aspect_of_a_thin_strip_stays_within_the_limit(run_nodes: Run, tmp_path: Path) -> None:
    path = write_picture(tmp_path / "strip.png", horizontal_ramp(2, 400))
    result = run_nodes(loaded(path, {"type": "image.Resize", "inputs": {"width": 16384, "height": 0}}))
    assert "the height that keeps the aspect ratio is 3276800" in failure_of(result, "step")


def test_crop_with_a_linked_negative_start_fails_instead_of_wrapping_around(run_nodes: Run, tmp_path: Path) -> None:
    path = write_picture(tmp_path / "source.png", horizontal_ramp(64, 32))
    nodes = loaded(path, {"type": "image.Crop", "inputs": {"x": ["left", "value"], "width": 4}})
    nodes["left"] = {"type": "core.Int", "inputs": {"value": -5}}
    assert failure_of(run_nodes(nodes), "step") == "input 'x' got a value from its link that is -5, below the minimum 0"


def test_blend_with_a_linked_factor_past_one_fails(run_nodes: Run) -> None:
    nodes = blend_workflow("normal", 0.5)
    nodes["strength"] = {"type": "core.Float", "inputs": {"value": 3.0}}
    nodes["mix"]["inputs"]["factor"] = ["strength", "value"]
    assert "'factor' got a value from its link that is 3.0" in failure_of(run_nodes(nodes), "mix")
