"""Export benchmark: prints figures for the media issue's targets.

    python bench/media.py [--seconds 10] [--rounds 3] [--minutes 10] [--skip-long]

- **Throughput**: LOW (1280×720, 24 fps) timelines with crossfades, music and a voice,
  exported by ``render_project``; then the very frames and sound they compose, piped raw
  to the ffmpeg command line with the same codec settings (libx264, same preset and CRF,
  yuv420p, AAC 48 kHz). Twice: clips that are graph outputs (in memory, as generated
  clips are), and a video file that the export decodes as it goes (work ffmpeg is not
  asked to do here). Target: at least 0.8× ffmpeg's speed.
- **Memory**: a ``--minutes`` long 720p timeline (file clips with crossfades, stills,
  a music file as long as the timeline, voices, clicks) exported in a subprocess;
  peak RSS from ``resource.getrusage`` (and the child's own VmHWM: Linux carries
  ``ru_maxrss`` over fork and exec, so the sources are made in another subprocess and
  the long export runs while this process is small). Target: under 2 GB, flat with length.
- **A/V drift**: that timeline has a one-frame white flash on an upper track and a
  click on an effects track at the same moments every 30 s; both are found again in
  the written file. Target: within one frame of each other over the whole length.

Sources are generated here (no downloads); ffmpeg is used only for the comparison.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from gpu.executor import Executor  # noqa: E402
from gpu.timeline_audio import AudioMixer  # noqa: E402
from gpu.timeline_frames import FrameCompositor  # noqa: E402
from gpu.timeline_render import AUDIO_RATE, PRESETS, compute_graph_outputs, render_project  # noqa: E402
from nodes.context import CancelToken  # noqa: E402
from nodes.graph import Graph  # noqa: E402
from nodes.media_files import VideoWriter, read_audio, read_frames, write_audio_file  # noqa: E402
from nodes.registry import builtin_registry  # noqa: E402
from nodes.spec import Input, Output, node  # noqa: E402
from nodes.timeline import Project  # noqa: E402
from nodes.timeline_validation import clip_lengths, source_facts  # noqa: E402
from nodes.types import FLOAT, INT, VIDEO, Audio, Video  # noqa: E402

LOW = PRESETS["low"]
FLASH_EVERY = 30.0
FLASH_OFFSET = 12.0


# ----- sources -----------------------------------------------------------------------------------
def animation_frame(index: int, texture: np.ndarray) -> np.ndarray:
    """A 720p frame with motion and fine detail, so the encoder has real work to do."""
    frame = np.empty((720, 1280, 3), np.uint8)
    frame[:] = (40 + index % 120, 80, 160 - index % 100)
    frame += texture
    for ball in range(12):
        x = int(640 + 500 * np.sin(index / 20 + ball))
        y = int(360 + 280 * np.cos(index / 27 + ball * 1.7))
        cv2.circle(frame, (x, y), 40 + 5 * ball, (255 - 15 * ball, 40 + 18 * ball, 90), -1)
    cv2.putText(frame, f"frame {index}", (40, 680), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 4)
    return frame


def texture() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 60, (720, 1280, 3), dtype=np.uint8)


@node("bench.Animation", category="bench", description="A generated 720p clip, as a video model would give one.",
      inputs=[Input("seconds", FLOAT, default=5.0), Input("first", INT, default=0)], outputs=[Output("video", VIDEO)])
def animation(ctx: Any, seconds: float, first: int) -> Video:
    grain = texture()
    return Video(np.stack([animation_frame(first + index, grain) for index in range(round(seconds * LOW.fps))]),
                 LOW.fps)


def make_sources(folder: Path, music_seconds: float) -> None:
    """A 10 s animated 720p clip, a still, a flash, music, a voice and a click."""
    grain = texture()
    with VideoWriter(folder / "scene.mp4", 1280, 720, 24.0, crf=18, preset="veryfast", audio_rate=None) as writer:
        for index in range(240):
            writer.write_frame(animation_frame(index, grain))
    rng = np.random.default_rng(7)
    still = cv2.resize(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(folder / "still.png"), still)
    cv2.imwrite(str(folder / "white.png"), np.full((72, 128, 3), 255, np.uint8))
    times = np.arange(int(music_seconds * AUDIO_RATE)) / AUDIO_RATE
    music = 0.2 * np.sin(2 * np.pi * 220 * times) + 0.1 * np.sin(2 * np.pi * 330 * times)
    write_audio_file(folder / "music.flac", Audio(music.astype(np.float32)[None, :], AUDIO_RATE), "flac")
    voice_times = times[: 3 * AUDIO_RATE]
    voice = 0.3 * np.sin(2 * np.pi * 600 * voice_times) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * voice_times))
    write_audio_file(folder / "voice.wav", Audio(voice.astype(np.float32)[None, :], AUDIO_RATE), "wav")
    click = np.zeros(AUDIO_RATE // 10, np.float32)
    click[:96] = 0.9 * np.sign(np.sin(2 * np.pi * 2000 * np.arange(96) / AUDIO_RATE))
    write_audio_file(folder / "click.wav", Audio(click[None, :], AUDIO_RATE), "wav")


def generated_project(folder: Path, seconds: float) -> Project:
    """Two generated clips (graph outputs, in memory) joined by a 1 s crossfade, with music and a voice."""
    graph = Graph()
    first = (seconds + 1.0) / 2
    graph.add("bench.Animation", {"seconds": first, "first": 0}, node_id="one")
    graph.add("bench.Animation", {"seconds": seconds + 1.0 - first, "first": 300}, node_id="two")
    document = timeline_project(folder, seconds, flashes=False).to_dict()
    document["graphs"] = {"clips": graph.to_dict()}
    document["timeline"]["video_tracks"] = [{"id": "V1", "clips": [
        {"id": "one", "source": {"graph": "clips", "node": "one", "output": "video"}, "start": 0.0, "in": 0.0,
         "out": None},
        {"id": "two", "source": {"graph": "clips", "node": "two", "output": "video"}, "start": first - 1.0,
         "in": 0.0, "out": None, "transition_in": {"kind": "crossfade", "duration": 1.0}}]}]
    return Project.from_dict(document, folder=folder)


def timeline_project(folder: Path, seconds: float, flashes: bool) -> Project:
    """Scene clips (10 s each, from alternating in points) and stills, joined by 1 s crossfades."""
    pictures, start, number = [], 0.0, 0
    while start < seconds - 1.0:
        length = min(8.0, seconds - start)
        if number % 3 == 2:
            source: dict[str, Any] = {"image": "still.png"}
            window = (0.0, length)
        else:
            source = {"file": "scene.mp4"}
            window = (float(number % 2), float(number % 2) + length)
        clip = {"id": f"p{number}", "source": source, "start": start, "in": window[0], "out": window[1]}
        if number:
            clip["transition_in"] = {"kind": "crossfade", "duration": 1.0}
        pictures.append(clip)
        start += length - 1.0
        number += 1
    end = pictures[-1]["start"] + pictures[-1]["out"] - pictures[-1]["in"]
    voices = [{"id": f"v{index}", "source": {"file": "voice.wav"}, "start": at, "in": 0, "out": None}
              for index, at in enumerate(np.arange(3.0, end - 3.0, 20.0))]
    video_tracks = [{"id": "V1", "clips": pictures}]
    effects = []
    if flashes:
        moments = np.arange(FLASH_OFFSET, end - 1.0, FLASH_EVERY)
        video_tracks.append({"id": "V2", "clips": [
            {"id": f"flash{index}", "source": {"image": "white.png"}, "start": float(at), "in": 0,
             "out": 1.0 / LOW.fps, "fit": "stretch"} for index, at in enumerate(moments)]})
        effects = [{"id": f"click{index}", "source": {"file": "click.wav"}, "start": float(at), "in": 0,
                    "out": None} for index, at in enumerate(moments)]
    document = {
        "format": "reelgraph.project", "version": 1, "name": "bench", "graphs": {},
        "timeline": {"fps": LOW.fps, "width": 1280, "height": 720, "video_tracks": video_tracks,
                     "audio_tracks": [
                         {"id": "A1", "kind": "voice", "clips": voices},
                         {"id": "A2", "kind": "music", "gain_db": -3.0, "clips": [
                             {"id": "bed", "source": {"file": "music.flac"}, "start": 0.0, "in": 0.0, "out": end,
                              "fade_in": 1.0, "fade_out": 2.0}]},
                         {"id": "A3", "kind": "effects", "clips": effects}]}}
    return Project.from_dict(document, folder=folder)


# ----- throughput ---------------------------------------------------------------------------------
def throughput(folder: Path, seconds: float, rounds: int) -> None:
    """Ours and ffmpeg's, taken in turns (a busy machine slows both alike), medians compared."""
    registry = builtin_registry()
    registry.register(animation, "bench")
    with Executor(registry, output_dir=folder, previews=False) as executor:
        print(f"throughput, LOW {LOW.width}×{LOW.height} at {LOW.fps:g} fps (x264 {LOW.encoder_preset}, "
              f"crf {LOW.crf}, yuv420p, AAC 48 kHz), median of {rounds} turns each:")
        for kind, project, decodes in (
                ("generated clips (graph outputs in memory)", generated_project(folder, seconds), False),
                ("a video file, decoded while exporting", timeline_project(folder, seconds, False), True)):
            compare(folder, project, executor, kind, rounds, decodes)


def compare(folder: Path, project: Project, executor: Executor, kind: str, rounds: int, decodes: bool) -> None:
    """Ours against ffmpeg encoding the frames we compose; when our export decodes a source file,
    also against ffmpeg decoding that file (looped to as many frames) and encoding it, so both
    sides pay for decoding."""
    values, source_lengths = compute_graph_outputs(project, executor, CancelToken(), lambda *_: None)
    frames = _dump_composed(project, values, source_lengths, folder / "frames.rgb", folder / "sound.f32")
    command = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "1280x720",
               "-r", f"{LOW.fps:g}", "-i", str(folder / "frames.rgb"), "-f", "f32le", "-ar", str(AUDIO_RATE),
               "-ac", "2", "-i", str(folder / "sound.f32"), "-c:v", "libx264", "-preset", LOW.encoder_preset,
               "-crf", str(LOW.crf), "-pix_fmt", "yuv420p", "-vf", "scale=out_color_matrix=bt709:out_range=tv",
               "-c:a", "aac", "-movflags", "+faststart", str(folder / "ffmpeg.mp4")]
    decoding = ["ffmpeg", "-y", "-loglevel", "error", "-stream_loop", "-1", "-i", str(folder / "scene.mp4"),
                "-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", str(folder / "sound.f32"),
                "-frames:v", str(frames), "-r", f"{LOW.fps:g}", "-c:v", "libx264", "-preset", LOW.encoder_preset,
                "-crf", str(LOW.crf), "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
                str(folder / "ffmpeg-decoding.mp4")]
    ours, theirs, decoded = [], [], []
    for _ in range(rounds):
        began = time.perf_counter()
        result = render_project(project, LOW, folder / "ours.mp4", executor=executor, check=False)
        ours.append(time.perf_counter() - began)
        began = time.perf_counter()
        subprocess.run(command, check=True)
        theirs.append(time.perf_counter() - began)
        if decodes:
            began = time.perf_counter()
            subprocess.run(decoding, check=True)
            decoded.append(time.perf_counter() - began)
    (folder / "frames.rgb").unlink()
    assert result.frames == frames
    mine, reference = statistics.median(ours), statistics.median(theirs)
    print(f"  {kind}, {frames} frames:")
    print(f"    render_project: {mine:6.2f} s {frames / mine:6.1f} fps;  ffmpeg CLI on the same frames: "
          f"{reference:6.2f} s {frames / reference:6.1f} fps")
    print(f"    ratio ours/ffmpeg: {reference / mine:.2f}×  (target ≥ 0.8×; turn by turn: "
          f"{', '.join(f'{b / a:.2f}' for a, b in zip(ours, theirs))})")
    if decoded:
        both = statistics.median(decoded)
        print(f"    ffmpeg CLI decoding the same source file and encoding {frames} frames: {both:6.2f} s "
              f"{frames / both:6.1f} fps; ratio ours/ffmpeg: {both / mine:.2f}×  (turn by turn: "
              f"{', '.join(f'{b / a:.2f}' for a, b in zip(ours, decoded))})")


def _dump_composed(project: Project, values: dict[str, Any], source_lengths: dict[str, float], raw: Path,
                   sound: Path) -> int:
    """The frames and sound the export composes, raw, for ffmpeg to encode; returns the frame count."""
    facts = source_facts(project)
    lengths = clip_lengths(project, facts, source_lengths)
    frames = round(max(clip.start + (lengths[clip.id] or 0.0) for _, clip in project.timeline.clips()) * LOW.fps)
    sizes = {clip_id: fact.size for clip_id, fact in facts.items() if fact.size is not None}
    sizes.update({clip_id: (value.frames.shape[2], value.frames.shape[1]) for clip_id, value in values.items()})
    compositor = FrameCompositor(project, values, lengths, sizes, (LOW.width, LOW.height), LOW.fps, LOW.fit)
    mixer = AudioMixer(project, values, lengths)
    with raw.open("wb") as pictures:
        for index in range(frames):
            pictures.write(compositor.frame(index / LOW.fps).tobytes())
    compositor.close()
    total = round(frames * AUDIO_RATE / LOW.fps)
    with sound.open("wb") as samples:
        for first in range(0, total, AUDIO_RATE):
            samples.write(mixer.mix(first, min(AUDIO_RATE, total - first)).T.astype("<f4").tobytes())
    return frames


# ----- a long export: memory and drift --------------------------------------------------------------
def long_export_child(folder: Path, minutes: float) -> None:
    """Runs in a subprocess so its peak RSS is its own."""
    project = timeline_project(folder, minutes * 60.0, flashes=True)
    began = time.perf_counter()
    result = render_project(project, LOW, folder / "long.mp4", check=False)
    rendered = time.perf_counter() - began
    after_render = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, high_water_mark_kb()
    from gpu.timeline_render import check_export

    began = time.perf_counter()
    report, _ = check_export(result.path, LOW, result.frames, True)
    checked = time.perf_counter() - began
    print(json.dumps({"frames": result.frames, "seconds": result.end - result.start, "render_s": rendered,
                      "check_s": checked, "check_passed": report.passed, "rss_render_kb": after_render,
                      "rss_kb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, high_water_mark_kb())}))


def high_water_mark_kb() -> int:
    """This process's own peak RSS (VmHWM). Linux carries ``ru_maxrss`` over ``fork`` and
    ``exec``, so a child's getrusage figure never reads below its parent's size at the fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def long_export(folder: Path, minutes: float) -> tuple[dict[str, Any], float]:
    """The long export, run first, while this process is still small (see high_water_mark_kb)."""
    parent_kb = high_water_mark_kb()
    child = subprocess.run([sys.executable, __file__, "--long-child", str(folder), str(minutes)],
                           check=True, capture_output=True, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1]), parent_kb


def print_long_export(folder: Path, minutes: float, figures: dict[str, Any], parent_kb: float) -> None:
    print(f"a {minutes:g}-minute 720p timeline ({figures['frames']} frames), exported in a subprocess:")
    print(f"  render {figures['render_s']:6.1f} s ({figures['frames'] / figures['render_s']:.1f} fps), then the "
          f"check {figures['check_s']:.1f} s (passed: {figures['check_passed']})")
    (usage, own), (usage_all, own_all) = figures["rss_render_kb"], figures["rss_kb"]
    print(f"  peak RSS (getrusage): {usage / 1024:.0f} MB rendering, {usage_all / 1024:.0f} MB with the check "
          f"(target < 2048 MB)")
    print(f"  the child's own high-water mark (VmHWM): {own / 1024:.0f} MB rendering, {own_all / 1024:.0f} MB with "
          f"the check; the parent was {parent_kb / 1024:.0f} MB at the fork")
    drift(folder / "long.mp4", figures["seconds"])


def drift(path: Path, seconds: float) -> None:
    """Find each flash (pictures) and click (sound) again in the file and compare their times."""
    offsets = []
    for moment in np.arange(FLASH_OFFSET, seconds - 1.0, FLASH_EVERY):
        begin = max(0.0, float(moment) - 0.5)
        brightness = [frame.mean() for frame in read_frames(path, begin, begin + 1.0, fps=LOW.fps)]
        flash = begin + int(np.argmax(brightness)) / LOW.fps
        sound = read_audio(path, begin, begin + 1.0).samples[0]
        click = begin + int(np.argmax(np.abs(sound) > 0.5 * np.abs(sound).max())) / AUDIO_RATE
        offsets.append((float(moment), flash - moment, click - moment))
    worst = max(abs(click - flash) for _, flash, click in offsets)
    print(f"  A/V: {len(offsets)} flashes and clicks, every {FLASH_EVERY:g} s from {FLASH_OFFSET:g} s:")
    for moment, flash, click in (offsets[0], offsets[len(offsets) // 2], offsets[-1]):
        print(f"    at {moment:7.2f} s: flash {flash * 1000:+6.1f} ms, click {click * 1000:+6.2f} ms")
    print(f"    largest click − flash: {worst * 1000:.1f} ms (one frame: {1000 / LOW.fps:.1f} ms; "
          f"target within one frame)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the throughput timeline")
    parser.add_argument("--rounds", type=int, default=3, help="turns each for the throughput comparison")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the memory and drift timeline")
    parser.add_argument("--skip-long", action="store_true", help="only the throughput comparison")
    parser.add_argument("--long-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--make-sources", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.long_child:
        long_export_child(Path(arguments.long_child[0]), float(arguments.long_child[1]))
        return
    if arguments.make_sources:
        make_sources(Path(arguments.make_sources[0]), float(arguments.make_sources[1]))
        return
    if shutil.which("ffmpeg") is None:
        sys.exit("the comparison needs the ffmpeg command line (apt-get install ffmpeg)")
    folder = Path(tempfile.mkdtemp(prefix="reelgraph-bench-media-"))
    try:
        seconds = max(0.0 if arguments.skip_long else arguments.minutes * 60.0, arguments.seconds) + 5.0
        subprocess.run([sys.executable, __file__, "--make-sources", str(folder), str(seconds)], check=True)
        long = None if arguments.skip_long else long_export(folder, arguments.minutes)
        throughput(folder, arguments.seconds, arguments.rounds)
        if long is not None:
            print_long_export(folder, arguments.minutes, *long)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
