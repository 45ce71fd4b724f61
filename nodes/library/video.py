"""Moving pictures generated on the GPU: a still brought to life, or a clip from a prompt.

Video models fold frames and pixels into latents, so each family takes only some
sizes and lengths. Wan 2.x folds 4 frames into one latent frame (clips of 4k+1
frames: 5, 9, ..., 81), LTX-Video 8 (8k+1: 9, 17, ..., 161); Stable Video Diffusion
takes any length. The nodes refuse a length the model cannot make, naming the
nearest lengths it can, instead of letting diffusers round it silently: the clip a
creator asked for is the clip they get, or a message saying why not. The rules are
checked from the family before the weights load (a mistake costs no waiting), and
again from the loaded pipeline's own VAE and patch sizes, which are the final word.

Image-to-video takes its size from the picture: scaled down (never up) to fit
``longest_side``, then rounded to the nearest multiple the model needs.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from nodes.generation import StepReporter, download_progress, generator, latent_preview, require_family, \
    to_pil, to_uint8_images
from nodes.library.core import SEED_MAX
from nodes.library.image import as_image
from nodes.models import FAMILIES, ModelRef
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import FLOAT, IMAGE, INT, MODEL, STRING, VIDEO, Video

IMAGE_TO_VIDEO_FAMILIES = {"svd", "wan"}
TEXT_TO_VIDEO_FAMILIES = {"wan", "ltx"}
#: Frames each family's VAE folds into one latent frame: its clips are k × fold + 1 long.
FRAME_FOLD = {"svd": 1, "wan": 4, "ltx": 8}
#: Pixels a side of a text-to-video clip must be a multiple of, before the model loads
#: (after, the VAE's fold times the transformer's patch, or what the pipeline checks).
SIZE_STEP = {"wan": 16, "ltx": 32}
#: The rate each family was trained at; what ``fps`` 0 picks.
NATIVE_FPS = {"svd": 7.0, "wan": 16.0, "ltx": 25.0}
#: The pipeline classes that make clips from a still, and from a prompt.
IMAGE_TO_VIDEO_PIPELINES = {"StableVideoDiffusionPipeline", "WanImageToVideoPipeline"}
TEXT_TO_VIDEO_PIPELINES = {"WanPipeline", "LTXPipeline"}
#: LTX-Video folders saved for other tasks share the text-to-video weights.
LTX_RELATIVES = {"LTXImageToVideoPipeline", "LTXConditionPipeline"}
#: Share of a node's progress bar the denoising steps take; decoding the frames takes the rest.
DENOISING_SHARE = 0.95
MAX_FRAMES = 1024

FPS_HELP = "Frames per second of the clip; 0 picks the model's own rate (SVD 7, Wan 16, LTX-Video 25)."
FRAMES_HELP = "How many frames the clip has. Wan makes 4k+1 frames (5, 9, ..., 81), LTX-Video 8k+1 (9, 17, ...)."


def nearest_frame_counts(frames: int, fold: int) -> tuple[int, int]:
    """The valid clip lengths just below and just above ``frames`` (k × fold + 1)."""
    lower = max(1, (frames - 1) // fold * fold + 1)
    return lower, lower + fold


def require_frame_count(model: ModelRef, frames: int, fold: int) -> None:
    if fold > 1 and (frames - 1) % fold:
        lower, upper = nearest_frame_counts(frames, fold)
        raise NodeFailure(
            f"{FAMILIES.get(model.family, model.family)} makes clips of {fold}k+1 frames; {frames} frames will not "
            f"do (try {lower} or {upper})"
        )


def require_size_step(value: int, what: str, step: int) -> None:
    if value % step:
        lower = max(step, value - value % step)
        raise NodeFailure(f"the {what} {value} must be a multiple of {step} for this model "
                          f"(try {lower} or {lower + step})")


def check_text_to_video(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    """Validation hook: what every text-to-video family needs (Wan's rules; LTX asks for
    more, which the node checks once it knows the model)."""
    for name in ("width", "height"):
        value = constants.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value % 16:
            lower = max(16, value - value % 16)
            yield name, f"is {value}, not a multiple of 16", f"use {lower} or {lower + 16}"
    frames = constants.get("frames")
    if isinstance(frames, int) and not isinstance(frames, bool) and frames >= 1 and (frames - 1) % 4:
        lower, upper = nearest_frame_counts(frames, 4)
        yield "frames", f"is {frames}; video models make 4k+1 frames", f"use {lower} or {upper}"


def require_pipeline(model: ModelRef, class_name: str, accepted: set[str], node_words: str, instead: str) -> None:
    """Refuse a model of the right family made for the other task (Wan text-to-video
    for image-to-video, and the other way round)."""
    if class_name and class_name not in accepted and not (model.family == "ltx" and class_name in LTX_RELATIVES):
        raise NodeFailure(f"{model.name} is a {class_name} model and cannot {node_words}; {instead}")


def load_video_pipeline(ctx: Any, model: ModelRef, accepted: set[str], node_words: str, instead: str) -> Any:
    """The model's pipeline, refused before loading when its folder says it was made for
    the other task, and after loading when only the weights could tell."""
    require_pipeline(model, index_class_name(model), accepted, node_words, instead)
    if model.family == "wan" and importlib.util.find_spec("ftfy") is None:
        raise NodeFailure("Wan's pipelines need the ftfy package to read prompts; install it (pip install ftfy) "
                          "and run again")
    pipe = ctx.models.pipeline(model, ctx.device, "text2img", progress=download_progress(ctx))
    require_pipeline(model, type(pipe).__name__, accepted, node_words, instead)
    return pipe


def index_class_name(model: ModelRef) -> str:
    """The pipeline class a local diffusers folder declares, read before loading anything."""
    index = Path(model.source) / "model_index.json"
    try:
        return str(json.loads(index.read_text(encoding="utf-8")).get("_class_name", ""))
    except (OSError, ValueError):
        return ""


@dataclass(frozen=True)
class Rules:
    """What the loaded pipeline needs: frames fold and the size step."""

    fold: int
    size_step: int


def pipeline_rules(pipe: Any, family: str) -> Rules:
    """The loaded pipeline's own rules: its VAE's folds times its denoiser's patches."""
    if family == "svd":
        downsamples = 2 ** (len(pipe.unet.config.block_out_channels) - 1)
        return Rules(1, math.lcm(8, pipe.vae_scale_factor * downsamples))
    if family == "wan":
        transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
        patch = transformer.config.patch_size
        return Rules(pipe.vae_scale_factor_temporal * patch[0], math.lcm(16, pipe.vae_scale_factor_spatial * patch[1]))
    return Rules(pipe.vae_temporal_compression_ratio * pipe.transformer_temporal_patch_size,
                 math.lcm(32, pipe.vae_spatial_compression_ratio * pipe.transformer_spatial_patch_size))


def text_to_video_pipeline(pipe: Any) -> Any:
    """An LTX-Video pipeline saved for image-to-video or conditioning, turned into the
    text-to-video one on the same weights (kept on the base, made once)."""
    from diffusers import LTXPipeline

    if type(pipe).__name__ in TEXT_TO_VIDEO_PIPELINES:
        return pipe
    derived = pipe.__dict__.setdefault("_reelgraph_derived", {})
    if ("text2video", 0) not in derived:
        derived[("text2video", 0)] = LTXPipeline.from_pipe(pipe)
    text_pipe = derived[("text2video", 0)]
    text_pipe.vae = pipe.vae
    return text_pipe


class ClipReporter(StepReporter):
    """Progress over the steps the pipeline really runs (it knows once its loop began),
    leaving the last stretch of the bar for decoding the frames. A cancel that arrives
    while the step is reported stops the clip there: a video step is too dear to waste."""

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self.steps = max(1, int(getattr(pipe, "num_timesteps", 0) or self.steps))
        tensors = super().__call__(pipe, step, timestep, tensors)
        self.ctx.check_cancelled()
        return tensors


Decode = Callable[[Any], np.ndarray]


def preview_decoder(family: str, pipe: Any, frames: int, height: int, width: int) -> Decode | None:
    """A rough first-frame picture of a family's latents: SVD keeps frames before
    channels, LTX-Video packs its latents into a sequence; Wan's need no help."""
    if family == "svd":
        return lambda latents: latent_preview(latents.transpose(1, 2), family)
    if family == "ltx":
        spatial, temporal = pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio

        def unpack(latents: Any) -> np.ndarray:
            grid = pipe._unpack_latents(latents[:1], (frames - 1) // temporal + 1, height // spatial,
                                        width // spatial, pipe.transformer_spatial_patch_size,
                                        pipe.transformer_temporal_patch_size)
            return latent_preview(grid, family)

        return unpack
    return None


def make_clip(ctx: Any, model: ModelRef, pipe: Any, frames: int, height: int, width: int, steps: int, seed: int,
              fps: float, arguments: dict[str, Any]) -> Video:
    """Run a video pipeline with progress, previews and cancellation between steps."""
    reporter = ClipReporter(ctx, steps, model.family, preview_decoder(model.family, pipe, frames, height, width),
                            span=DENOISING_SHARE)

    def film() -> Any:
        return pipe(num_frames=frames, height=height, width=width, num_inference_steps=steps,
                    generator=generator(seed), output_type="np", callback_on_step_end=reporter,
                    callback_on_step_end_tensor_inputs=["latents"], **arguments).frames

    clips = ctx.models.run_guarded(ctx.device, model, film, f"a {frames}-frame {width}×{height} clip")
    pictures = np.stack(to_uint8_images(clips[0]))
    if len(pictures) != frames:
        raise NodeFailure(f"{model.name} made {len(pictures)} frames instead of {frames}")
    ctx.progress(1.0)
    return Video(pictures, fps)


def picture_at(picture: np.ndarray, height: int, width: int) -> Any:
    """The still as the pipeline takes it: a PIL picture at the clip's size."""
    from PIL import Image

    still = to_pil(picture)
    return still if still.size == (width, height) else still.resize((width, height), Image.Resampling.LANCZOS)


def clip_rate(fps: float, family: str) -> float:
    return float(fps) if fps > 0 else NATIVE_FPS[family]


def fit_size(height: int, width: int, longest_side: int, step: int) -> tuple[int, int]:
    """The picture's size scaled down to fit ``longest_side``, rounded to multiples of ``step``."""
    scale = min(1.0, longest_side / max(height, width))

    def rounded(side: float) -> int:
        return max(step, math.floor(side * scale / step + 0.5) * step)

    return rounded(height), rounded(width)


@node("video.ImageToVideo", category="video",
      description="Brings a still to life: a clip that starts from the picture, made with Stable Video Diffusion "
                  "or Wan image-to-video. The size comes from the picture (scaled down to fit the longest side, "
                  "rounded to what the model needs). Wan follows the prompt and negative; SVD ignores them and "
                  "moves as 'motion' and 'noise augmentation' say, which Wan ignores in turn. "
                  "The same seed and settings give the same clip.",
      inputs=[Input("model", MODEL),
              Input("image", IMAGE),
              Input("prompt", STRING, default="", multiline=True,
                    description="What happens in the clip (Wan only; SVD ignores it)."),
              Input("negative", STRING, default="", multiline=True, optional=True,
                    description="What to keep out of the clip (Wan only; SVD ignores it)."),
              Input("frames", INT, default=25, min=1, max=MAX_FRAMES, description=FRAMES_HELP),
              Input("fps", FLOAT, default=0.0, min=0.0, max=240.0, step=1.0, description=FPS_HELP),
              Input("motion", INT, default=127, min=1, max=255,
                    description="SVD only: how much moves, its motion bucket (1 still to 255 wild). Wan has no "
                                "such control: describe the motion in the prompt."),
              Input("noise_augmentation", FLOAT, default=0.02, min=0.0, max=1.0, step=0.01,
                    description="SVD only: noise added to the picture; more lets the clip stray further from it."),
              Input("seed", INT, default=0, min=0, max=SEED_MAX, widget="seed"),
              Input("steps", INT, default=25, min=1, max=150),
              Input("cfg", FLOAT, default=3.0, min=0.0, max=30.0, step=0.1,
                    description="Guidance. SVD: its strength at the last frame, rising from 1 at the first; "
                                "Wan: classifier-free guidance for the whole clip."),
              Input("longest_side", INT, default=1024, min=64, max=4096, step=8,
                    description="The clip's longer side at most; a larger picture is scaled down, never up.")],
      outputs=[Output("video", VIDEO)], gpu=True)
def image_to_video(ctx: Any, model: ModelRef, image: np.ndarray, prompt: str, frames: int, fps: float, motion: int,
                   noise_augmentation: float, seed: int, steps: int, cfg: float, longest_side: int,
                   negative: str = "") -> Video:
    require_family(model, IMAGE_TO_VIDEO_FAMILIES,
                   "bring a still to life (pick Stable Video Diffusion or a Wan image-to-video model)")
    picture = as_image(image)[:, :, :3]
    require_frame_count(model, frames, FRAME_FOLD[model.family])
    pipe = load_video_pipeline(ctx, model, IMAGE_TO_VIDEO_PIPELINES, "bring a still to life",
                               "use it in Text To Video, or pick a Wan image-to-video model (such as Wan2.1-I2V) "
                               "or Stable Video Diffusion here")
    rules = pipeline_rules(pipe, model.family)
    require_frame_count(model, frames, rules.fold)
    height, width = fit_size(picture.shape[0], picture.shape[1], longest_side, rules.size_step)
    still = picture_at(picture, height, width)
    rate = clip_rate(fps, model.family)
    if model.family == "svd":
        arguments = {"image": still, "fps": max(1, round(rate)), "motion_bucket_id": motion,
                     "noise_aug_strength": noise_augmentation, "min_guidance_scale": min(1.0, cfg),
                     "max_guidance_scale": cfg, "decode_chunk_size": min(frames, 8)}
    else:
        arguments = {"image": still, "prompt": prompt, "negative_prompt": negative or None, "guidance_scale": cfg}
    return make_clip(ctx, model, pipe, frames, height, width, steps, seed, rate, arguments)


@node("video.TextToVideo", category="video",
      description="Films a clip from a prompt with Wan text-to-video or LTX-Video. Wan needs sides in "
                  "multiples of 16 and 4k+1 frames; LTX-Video multiples of 32 and 8k+1 frames. "
                  "The same seed and settings give the same clip.",
      inputs=[Input("model", MODEL),
              Input("prompt", STRING, default="", multiline=True),
              Input("negative", STRING, default="", multiline=True, optional=True),
              Input("seed", INT, default=0, min=0, max=SEED_MAX, widget="seed"),
              Input("steps", INT, default=30, min=1, max=150),
              Input("cfg", FLOAT, default=5.0, min=0.0, max=30.0, step=0.1),
              Input("width", INT, default=832, min=16, max=4096, step=16),
              Input("height", INT, default=480, min=16, max=4096, step=16),
              Input("frames", INT, default=81, min=1, max=MAX_FRAMES, description=FRAMES_HELP),
              Input("fps", FLOAT, default=0.0, min=0.0, max=240.0, step=1.0, description=FPS_HELP)],
      outputs=[Output("video", VIDEO)], gpu=True, check=check_text_to_video)
def text_to_video(ctx: Any, model: ModelRef, prompt: str, seed: int, steps: int, cfg: float, width: int, height: int,
                  frames: int, fps: float, negative: str = "") -> Video:
    require_family(model, TEXT_TO_VIDEO_FAMILIES,
                   "film a clip from a prompt (pick a Wan text-to-video or an LTX-Video model)")
    require_size_step(width, "width", SIZE_STEP[model.family])
    require_size_step(height, "height", SIZE_STEP[model.family])
    require_frame_count(model, frames, FRAME_FOLD[model.family])
    pipe = text_to_video_pipeline(load_video_pipeline(
        ctx, model, TEXT_TO_VIDEO_PIPELINES, "film a clip from a prompt alone",
        "give it a picture in Image To Video, or pick a Wan text-to-video model (such as Wan2.1-T2V) or LTX-Video "
        "here"))
    rules = pipeline_rules(pipe, model.family)
    require_size_step(width, "width", rules.size_step)
    require_size_step(height, "height", rules.size_step)
    require_frame_count(model, frames, rules.fold)
    rate = clip_rate(fps, model.family)
    arguments: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative or None, "guidance_scale": cfg}
    if model.family == "ltx":
        arguments["frame_rate"] = rate
    return make_clip(ctx, model, pipe, frames, height, width, steps, seed, rate, arguments)
