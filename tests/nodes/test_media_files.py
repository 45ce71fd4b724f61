"""The media layer every video and audio part uses (``nodes.media_files``): files are
made at test time, with Reelgraph's own VideoWriter and, as an independent source,
with the ffmpeg command line; then probed, read back, converted and broken."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from nodes.media_files import MediaError, VideoWriter, load_video, probe, read_audio, read_frames, \
    resample_audio, write_audio_file
from nodes.spec import NodeFailure
from nodes.types import Audio

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="the ffmpeg command line is not installed")

WIDTH, HEIGHT = 64, 48


def numbered_frame(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A grey frame whose brightness tells which frame it is (index * 3), so a
    dropped, repeated or shifted frame shows."""
    return np.full((height, width, 3), (index * 3) % 240, np.uint8)


def frame_numbers(frames: list[np.ndarray]) -> list[int]:
    return [int(round(float(frame.mean()) / 3)) for frame in frames]


def clicks_under_flashes(count: int, fps: float, rate: int,
                         flashes: tuple[int, ...]) -> tuple[list[np.ndarray], np.ndarray]:
    """Black frames with white flashes at ``flashes``, and a sound that is silent but
    for a short click starting exactly when each flash is shown."""
    frames = [np.full((HEIGHT, WIDTH, 3), 255 if index in flashes else 0, np.uint8) for index in range(count)]
    sound = np.zeros((2, int(round(count / fps * rate))), np.float32)
    for index in flashes:
        begin = int(round(index / fps * rate))
        sound[:, begin : begin + rate // 200] = 0.8
    return frames, sound


def write_clip(path: Path, frames: list[np.ndarray], sound: np.ndarray | None, fps: float, rate: int = 48000,
               codec: str = "h264", audio_codec: str | None = None) -> Path:
    """Write frames and sound the way a renderer does: a frame, then the sound under it,
    in uneven pieces (pts come from sample counts, not from how the pieces fall)."""
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width, height, fps, codec=codec, audio_rate=rate if sound is not None else None,
                     audio_codec=audio_codec) as writer:
        fed = 0
        for index, frame in enumerate(frames):
            writer.write_frame(frame)
            if sound is not None:
                until = min(sound.shape[1], int(round((index + 1) / fps * rate)) + (37 if index % 3 else -11))
                if until > fed:
                    writer.write_audio(sound[:, fed:until])
                    fed = until
        if sound is not None and fed < sound.shape[1]:
            writer.write_audio(sound[:, fed:])
    return path


def flash_indices(frames: list[np.ndarray]) -> list[int]:
    return [index for index, frame in enumerate(frames) if frame.mean() > 128]


def click_times(audio: Audio) -> list[float]:
    loud = np.flatnonzero(np.abs(audio.samples[0]) > 0.3)
    if loud.size == 0:
        return []
    onsets = [int(loud[0])] + [int(now) for before, now in zip(loud, loud[1:]) if now - before > audio.rate // 20]
    return [onset / audio.rate for onset in onsets]


def assert_in_sync(frames: list[np.ndarray], audio: Audio, fps: float, flashes: tuple[int, ...]) -> None:
    assert flash_indices(frames) == list(flashes)
    clicks = click_times(audio)
    assert len(clicks) == len(flashes)
    for flash, click in zip(flashes, clicks):
        assert abs(click * fps - flash) < 0.5, f"the click under frame {flash} is heard at frame {click * fps:.2f}"


def ffprobe_streams(path: Path) -> list[dict]:
    shown = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                           check=True, capture_output=True, text=True)
    return json.loads(shown.stdout)["streams"]


def ffmpeg_clip(folder: Path, suffix: str, fps: int, rate: int, flashes: tuple[int, ...], count: int) -> Path:
    """The same flashes and clicks, encoded by the ffmpeg command line from raw data."""
    frames, sound = clicks_under_flashes(count, fps, rate, flashes)
    (folder / "frames.raw").write_bytes(np.stack(frames).tobytes())
    (folder / "sound.raw").write_bytes(np.ascontiguousarray(sound[0]).astype("<f4").tobytes())
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"] if suffix == ".mp4" else \
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"]
    target = folder / f"from_ffmpeg{suffix}"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}",
                    "-r", str(fps), "-i", str(folder / "frames.raw"), "-f", "f32le", "-ar", str(rate), "-ac", "1",
                    "-i", str(folder / "sound.raw"), *codecs, str(target)], check=True)
    return target


# ----- writing and reading back ---------------------------------------------------------------------

def test_an_mp4_round_trip_keeps_every_frame_its_size_rate_and_length(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", [numbered_frame(index) for index in range(48)], None, 24)
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (WIDTH, HEIGHT, 24.0, 48)
    assert info.duration == pytest.approx(2.0, abs=0.01)
    assert info.video_codec == "h264" and not info.has_audio
    frames = list(read_frames(path))
    assert frame_numbers(frames) == list(range(48))
    assert frames[0].dtype == np.uint8 and frames[0].shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("codec, suffix, audio_rate", [("h264", ".mp4", 48000), ("h264", ".mp4", 44100),
                                                       ("vp9", ".webm", 48000), ("vp9", ".webm", 44100)])
def test_a_click_in_the_sound_lines_up_with_the_flash_it_was_written_under(
        tmp_path: Path, codec: str, suffix: str, audio_rate: int) -> None:
    flashes = (5, 30, 61)
    frames, sound = clicks_under_flashes(72, 24, audio_rate, flashes)
    path = write_clip(tmp_path / f"sync{suffix}", frames, sound, 24, rate=audio_rate, codec=codec)
    info = probe(path)
    assert info.has_audio and info.audio_codec == ("aac" if codec == "h264" else "opus")
    assert info.duration == pytest.approx(3.0, abs=0.03)
    assert_in_sync(list(read_frames(path)), read_audio(path), 24, flashes)


def test_sound_stays_in_step_with_pictures_over_a_long_file_at_29_97_fps(tmp_path: Path) -> None:
    fps = 30000 / 1001  # 1471.47 samples of 44.1 kHz sound per frame: rounding would drift if it were not counted
    flashes = (3, 600, 1795)
    frames, sound = clicks_under_flashes(1800, fps, 44100, flashes)
    path = write_clip(tmp_path / "long.mp4", frames, sound, fps, rate=44100)
    info = probe(path)
    assert info.frame_count == 1800 and info.fps == pytest.approx(fps)
    assert_in_sync(list(read_frames(path)), read_audio(path, rate=44100), fps, flashes)


def test_sound_at_another_rate_is_converted_while_written_without_drift(tmp_path: Path) -> None:
    fps, flashes = 25, (2, 400, 745)
    frames, sound = clicks_under_flashes(750, fps, 22050, flashes)  # a 22.05 kHz voice in a 48 kHz file
    with VideoWriter(tmp_path / "voice.mp4", WIDTH, HEIGHT, fps, audio_rate=48000) as writer:
        for index, frame in enumerate(frames):
            writer.write_frame(frame)
            begin, end = round(index / fps * 22050), round((index + 1) / fps * 22050)
            writer.write_audio(Audio(sound[:, begin:end], 22050))
    audio = read_audio(tmp_path / "voice.mp4")
    assert audio.duration == pytest.approx(30.0, abs=0.01)
    assert_in_sync(list(read_frames(tmp_path / "voice.mp4")), audio, fps, flashes)


@needs_ffmpeg
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_a_file_made_by_the_ffmpeg_command_line_reads_in_sync(tmp_path: Path, suffix: str) -> None:
    flashes = (4, 27, 44)
    path = ffmpeg_clip(tmp_path, suffix, 25, 44100, flashes, 50)
    info = probe(path)
    assert (info.width, info.height, info.fps) == (WIDTH, HEIGHT, 25.0) and info.has_audio
    assert_in_sync(list(read_frames(path)), read_audio(path, rate=48000), 25, flashes)


@needs_ffmpeg
@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".mkv"])
def test_sound_that_stops_before_the_pictures_is_not_mistaken_for_a_cut_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"voice_then_quiet{suffix}"
    audio_codec = "libopus" if suffix == ".webm" else "aac"
    video_codec = ["libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"] if suffix == ".webm" else ["libx264"]
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=24:duration=6",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1.5",
                    "-c:v", *video_codec, "-c:a", audio_codec, str(path)], check=True)
    info = probe(path)
    assert info.frame_count == 144 and info.has_audio
    clip = load_video(path)
    assert len(clip.frames) == 144
    assert clip.audio is not None and clip.audio.duration == pytest.approx(6.0)
    assert np.abs(clip.audio.samples[:, : 48000]).max() > 0.1 and np.abs(clip.audio.samples[:, 2 * 48000 :]).max() == 0


@needs_ffmpeg
def test_a_song_with_cover_art_is_sound_not_a_one_frame_video(tmp_path: Path) -> None:
    song = write_audio_file(tmp_path / "song.flac", Audio(np.zeros((2, 48000 * 3), np.float32), 48000), "flac")
    cover = tmp_path / "cover.png"
    from PIL import Image

    Image.fromarray(numbered_frame(40)).save(cover)
    tagged = tmp_path / "song.m4a"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(song), "-i", str(cover), "-map", "0", "-map", "1",
                    "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic", str(tagged)], check=True)
    info = probe(tagged)
    assert info.has_audio and not info.has_video and info.duration == pytest.approx(3.0, abs=0.05)
    assert read_audio(tagged).duration == pytest.approx(3.0, abs=0.05)


@needs_ffmpeg
def test_the_ffmpeg_command_line_reads_what_the_writer_made(tmp_path: Path) -> None:
    frames, sound = clicks_under_flashes(36, 24, 48000, (10,))
    path = write_clip(tmp_path / "ours.mp4", frames, sound, 24)
    video, audio = sorted(ffprobe_streams(path), key=lambda stream: stream["codec_type"] != "video")
    assert (video["codec_name"], video["pix_fmt"], int(video["nb_read_frames"])) == ("h264", "yuv420p", 36)
    assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", 48000, 2)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "faststart puts the index before the data"


def test_an_odd_size_is_padded_by_one_edge_pixel_for_h264(tmp_path: Path) -> None:
    frame = np.zeros((49, 65, 3), np.uint8)
    frame[:, 64] = 200  # the last column and row, copied into the padding
    frame[48, :] = 200
    with VideoWriter(tmp_path / "odd.mp4", 65, 49, 12, audio_rate=None) as writer:
        writer.write_frame(frame)
        assert writer.frame_size == (66, 50)
    info = probe(tmp_path / "odd.mp4")
    assert (info.width, info.height) == (66, 50)
    picture = next(read_frames(tmp_path / "odd.mp4"))
    assert picture[:, 65].mean() > 150 and picture[49, :].mean() > 150
    with VideoWriter(tmp_path / "odd.webm", 65, 49, 12, codec="vp9", audio_rate=None) as writer:
        writer.write_frame(frame)
    assert (probe(tmp_path / "odd.webm").width, probe(tmp_path / "odd.webm").height) == (65, 49)


def test_a_png_sequence_is_a_folder_of_numbered_exact_frames_with_the_sound_beside_them(tmp_path: Path) -> None:
    frames, sound = clicks_under_flashes(6, 12, 48000, (2,))
    frames[1][3, 4] = (1, 2, 3)
    path = write_clip(tmp_path / "shot", frames, sound, 12, codec="png")
    names = sorted(entry.name for entry in path.iterdir())
    assert names == ["audio.wav"] + [f"frame_{index:06d}.png" for index in range(1, 7)]
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(path / "frame_000002.png")), frames[1])
    assert read_audio(path / "audio.wav").duration == pytest.approx(0.5, abs=1e-3)
    assert click_times(read_audio(path / "audio.wav")) == pytest.approx([2 / 12], abs=1e-3)


def test_sound_shorter_than_the_pictures_is_padded_with_silence(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "short_sound.mp4", WIDTH, HEIGHT, 24) as writer:
        for index in range(48):
            writer.write_frame(numbered_frame(index))
        writer.write_audio(np.full((2, 4800), 0.5, np.float32))  # a tenth of a second
    audio = read_audio(tmp_path / "short_sound.mp4")
    assert audio.duration == pytest.approx(2.0, abs=0.01)
    assert np.abs(audio.samples[:, 24000:]).max() < 0.01


# ----- reading parts, and converting while reading ------------------------------------------------

@pytest.mark.parametrize("target_fps, expected", [
    (12, list(range(0, 48, 2))),                          # every other frame dropped
    (48, [index // 2 for index in range(96)]),            # every frame shown twice
    (30, [int(slot * 24 / 30 + 1e-9) for slot in range(60)]),  # the frame on screen at each new time
    (24, list(range(48))),
])
def test_fps_conversion_drops_or_repeats_frames_and_keeps_the_length(
        tmp_path: Path, target_fps: int, expected: list[int]) -> None:
    path = write_clip(tmp_path / "count.mp4", [numbered_frame(index) for index in range(48)], None, 24)
    assert frame_numbers(list(read_frames(path, fps=target_fps))) == expected


def test_a_span_gives_the_frames_and_the_sound_of_that_span(tmp_path: Path) -> None:
    flashes = (30,)
    frames, sound = clicks_under_flashes(72, 24, 48000, flashes)
    for index in range(72):
        frames[index][0, 0] = index * 3  # the frame's number in its corner too
    path = write_clip(tmp_path / "span.mp4", frames, sound, 24)
    part = list(read_frames(path, start=1.0, end=1.5))
    assert len(part) == 12 and flash_indices(part) == [30 - 24]
    sound_part = read_audio(path, start=1.0, end=1.5)
    assert sound_part.samples.shape == (2, 24000)
    assert click_times(sound_part) == pytest.approx([6 / 24], abs=1e-3)
    assert len(list(read_frames(path, start=2.5))) == 12


def test_sound_read_in_pieces_joins_without_seams(tmp_path: Path) -> None:
    """The timeline reads long sound a block at a time: each block must match the same
    stretch of the whole file, or every joint would click (AAC needs the frames before
    a block decoded too: its windows overlap)."""
    hum = np.repeat((0.5 * np.sin(2 * np.pi * 440 * np.arange(48000 * 4) / 48000)).astype(np.float32)[None], 2, 0)
    path = write_clip(tmp_path / "hum.mp4", [numbered_frame(0)] * 96, hum, 24)
    whole = read_audio(path).samples
    pieces = np.concatenate([read_audio(path, second, second + 1.0).samples for second in range(4)], axis=1)
    assert pieces.shape == whole.shape == (2, 192000)
    assert np.abs(pieces - whole).max() < 1e-3


def test_read_frames_scales_to_the_size_asked_for(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "big.mp4", [numbered_frame(index * 20, 128, 96) for index in range(4)], None, 24)
    frames = list(read_frames(path, size=(32, 20)))
    assert [frame.shape for frame in frames] == [(20, 32, 3)] * 4
    assert [round(number / 20) for number in frame_numbers(frames)] == [0, 1, 2, 3]


def test_read_frames_streams_without_holding_the_file(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "stream.mp4", [numbered_frame(index % 80, 320, 240) for index in range(240)], None, 24)
    frame_bytes = 320 * 240 * 3
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_frames(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 240
    assert peak < 20 * frame_bytes, f"reading held {peak / frame_bytes:.0f} frames at once"


def test_read_audio_converts_rate_and_channels(tmp_path: Path) -> None:
    tone = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)[None, :] * 0.5
    write_audio_file(tmp_path / "tone.wav", Audio(tone, 44100))
    audio = read_audio(tmp_path / "tone.wav", rate=48000, channels=2)
    assert audio.rate == 48000 and audio.samples.shape == (2, 48000)
    assert np.allclose(audio.samples[0], audio.samples[1])
    spectrum = np.abs(np.fft.rfft(audio.samples[0]))
    assert abs(np.argmax(spectrum) * 48000 / 48000 - 440) <= 1


def test_load_video_holds_a_short_clip_with_its_sound_cut_to_the_same_span(tmp_path: Path) -> None:
    frames, sound = clicks_under_flashes(48, 24, 48000, (20,))
    path = write_clip(tmp_path / "short.mp4", frames, sound, 24)
    clip = load_video(path, start=0.5, end=1.5, fps=12)
    assert clip.frames.shape == (12, HEIGHT, WIDTH, 3) and clip.fps == 12
    assert clip.audio is not None and clip.audio.duration == pytest.approx(1.0)
    assert flash_indices(list(clip.frames)) == [4]
    assert click_times(clip.audio) == pytest.approx([20 / 24 - 0.5], abs=1e-3)
    assert load_video(path, with_audio=False).audio is None


def test_resample_audio_keeps_the_pitch_and_the_length() -> None:
    tone = (np.sin(2 * np.pi * 1000 * np.arange(22050) / 22050) * 0.5).astype(np.float32)[None, :]
    converted = resample_audio(Audio(tone, 22050), 48000, 2)
    assert converted.samples.shape == (2, 48000)
    assert abs(np.argmax(np.abs(np.fft.rfft(converted.samples[0]))) - 1000) <= 1


@pytest.mark.parametrize("format, suffix, exact", [("wav", ".wav", True), ("flac", ".flac", True),
                                                   ("aac", ".m4a", False)])
def test_sound_files_round_trip(tmp_path: Path, format: str, suffix: str, exact: bool) -> None:
    rng = np.random.default_rng(4)
    samples = (rng.uniform(-0.5, 0.5, (2, 22050)) * np.hanning(22050)).astype(np.float32)
    path = write_audio_file(tmp_path / f"sound{suffix}", Audio(samples, 22050), format)
    info = probe(path)
    assert info.has_audio and not info.has_video and info.audio_channels == 2 and info.audio_rate == 22050
    back = read_audio(path, rate=22050)
    assert back.samples.shape[1] == pytest.approx(22050, abs=2)
    if exact:
        assert np.abs(back.samples - samples).max() < 1.5 / 32768


# ----- bad input ----------------------------------------------------------------------------------

def broken_files(folder: Path) -> dict[str, Path]:
    frames, sound = clicks_under_flashes(72, 24, 48000, (10,))
    good_mp4 = write_clip(folder / "good.mp4", frames, sound, 24).read_bytes()
    good_webm = write_clip(folder / "good.webm", frames, sound, 24, codec="vp9").read_bytes()
    files = {
        "empty": b"",
        "garbage": bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8)),
        "text": b"this is not a video\n" * 50,
        "mp4 cut in half": good_mp4[: len(good_mp4) // 2],
        "mp4 cut to its header": good_mp4[:600],
        "webm cut in half": good_webm[: len(good_webm) // 2],
    }
    rng = np.random.default_rng(2)
    noise = Audio((rng.uniform(-0.3, 0.3, (2, 48000 * 4))).astype(np.float32), 48000)
    for kind in ("wav", "flac"):
        whole = write_audio_file(folder / f"good.{kind}", noise, kind).read_bytes()
        files[f"{kind} cut short"] = whole[: len(whole) * 6 // 10]
    whole = ogg_opus_file(folder / "good.opus", noise).read_bytes()
    files["opus cut short"] = whole[: len(whole) * 6 // 10]
    paths = {}
    for index, (name, data) in enumerate(files.items()):
        suffix = {"webm": ".webm", "wav": ".wav", "flac": ".flac", "opus": ".opus"}.get(name.split()[0], ".mp4")
        paths[name] = folder / f"broken_{index}{suffix}"
        paths[name].write_bytes(data)
    paths["unknown codec"] = unknown_codec_file(folder)
    return paths


def ogg_opus_file(path: Path, audio: Audio) -> Path:
    """Sound in an Ogg container (a format whose reader takes its length from the data)."""
    import av

    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=audio.rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(audio.samples, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = audio.rate, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def unknown_codec_file(folder: Path) -> Path:
    """An AVI whose video codec tag was changed to one no decoder knows."""
    import av

    path = folder / "unknown.avi"
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(24):
            picture = av.VideoFrame.from_ndarray(numbered_frame(index), format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    path.write_bytes(path.read_bytes().replace(b"FMP4", b"QZQZ"))
    return path


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return broken_files(tmp_path_factory.mktemp("broken"))


BROKEN = ["empty", "garbage", "text", "mp4 cut in half", "mp4 cut to its header", "webm cut in half", "unknown codec",
          "wav cut short", "flac cut short", "opus cut short"]


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_file_gives_a_clear_error_naming_it(broken: dict[str, Path], kind: str) -> None:
    path = broken[kind]
    for attempt in (lambda: probe(path), lambda: list(read_frames(path)), lambda: read_audio(path),
                    lambda: load_video(path)):
        with pytest.raises(MediaError) as caught:
            attempt()
        assert path.name in str(caught.value)
        assert isinstance(caught.value, NodeFailure)


def test_the_errors_say_what_is_wrong(broken: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "nowhere.mp4")
    with pytest.raises(MediaError, match="empty"):
        probe(broken["empty"])
    with pytest.raises(MediaError, match="cut short"):
        probe(broken["mp4 cut in half"])
    with pytest.raises(MediaError, match="cut short"):
        probe(broken["webm cut in half"])
    with pytest.raises(MediaError, match="codec"):
        probe(broken["unknown codec"])
    for kind in ("wav cut short", "flac cut short", "opus cut short"):
        with pytest.raises(MediaError, match="cut short"):
            probe(broken[kind])


def test_a_file_without_pictures_or_without_sound_says_so(tmp_path: Path) -> None:
    sound_only = write_audio_file(tmp_path / "voice.wav", Audio(np.zeros((1, 4800), np.float32), 48000))
    with pytest.raises(MediaError, match="no pictures"):
        list(read_frames(sound_only))
    silent_film = write_clip(tmp_path / "silent.mp4", [numbered_frame(0)] * 4, None, 24)
    with pytest.raises(MediaError, match="no sound"):
        read_audio(silent_film)


def test_writer_refuses_wrong_frames_and_broken_sound_clearly(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "strict.mp4", WIDTH, HEIGHT, 24) as writer:
        with pytest.raises(MediaError, match="resize it first"):
            writer.write_frame(np.zeros((HEIGHT + 2, WIDTH, 3), np.uint8))
        with pytest.raises(MediaError, match="uint8"):
            writer.write_frame(np.zeros((HEIGHT, WIDTH, 3), np.float32))
        with pytest.raises(MediaError, match="NaN"):
            writer.write_audio(np.full((2, 100), np.nan, np.float32))
        writer.write_frame(numbered_frame(1))
    assert probe(tmp_path / "strict.mp4").frame_count == 1
    with pytest.raises(MediaError, match="name it .webm"):
        VideoWriter(tmp_path / "wrong.mp4", WIDTH, HEIGHT, 24, codec="vp9")
    with pytest.raises(MediaError, match="Opus"):
        VideoWriter(tmp_path / "wrong.webm", WIDTH, HEIGHT, 24, codec="vp9", audio_codec="aac")


def test_a_failed_or_empty_render_leaves_no_file_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "failed.mp4", WIDTH, HEIGHT, 24) as writer:
            writer.write_frame(numbered_frame(0))
            raise RuntimeError("the renderer crashed")
    with pytest.raises(MediaError, match="no frames"):
        with VideoWriter(tmp_path / "nothing.mp4", WIDTH, HEIGHT, 24):
            pass
    assert os.listdir(tmp_path) == []


def test_overwriting_replaces_the_old_file_only_when_the_new_one_is_finished(tmp_path: Path) -> None:
    target = write_clip(tmp_path / "take.mp4", [numbered_frame(index) for index in range(10)], None, 24)
    writer = VideoWriter(target, WIDTH, HEIGHT, 24, audio_rate=None)
    writer.write_frame(numbered_frame(5))
    assert probe(target).frame_count == 10  # still the old take while the new one is written
    writer.close()
    assert probe(target).frame_count == 1


def test_a_mono_voice_keeps_its_level_when_read_or_converted_to_stereo(tmp_path):
    """Read from a file or mixed on the timeline, one voice sounds equally loud."""
    from nodes.media_files import read_audio, resample_audio, write_audio_file
    from nodes.types import Audio

    tone = Audio((0.5 * np.sin(np.linspace(0, 440 * 2 * np.pi, 48000))).astype(np.float32)[None, :], 48000)
    path = write_audio_file(tmp_path / "voice.wav", tone, "wav")
    read = read_audio(path, rate=48000, channels=2)
    converted = resample_audio(tone, 48000, 2)
    for stereo in (read, converted):
        assert stereo.samples.shape == (2, 48000)
        assert np.abs(stereo.samples).max() == pytest.approx(0.5, abs=0.01)
        assert np.array_equal(stereo.samples[0], stereo.samples[1])
