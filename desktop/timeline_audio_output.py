"""The sound of timeline playback, and the clock that playback follows.

While a sounddevice output stream is open, the sound card sets the pace: the
position is the count of timeline samples the stream's callback has handed to the
device. A feeder thread runs ``AudioMixer.mix`` about half a second ahead into a
ring buffer; the callback only copies from the ring (it never mixes, decodes or
allocates), so a slow decode shows up as a late picture, never as sound running
ahead of the picture. When the ring runs dry the callback plays silence and the
clock waits: audio never skips.

Where no sound can play (sounddevice cannot load PortAudio, there is no output
device, the stream does not open) playback follows :class:`SilentClock`, a
monotonic clock, and :func:`sound_output_problem` says why in a sentence.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

import numpy as np

RATE = 48000
CHANNELS = 2
#: How far the feeder mixes ahead of the device: enough to ride over a file block being decoded.
AHEAD_SECONDS = 0.5
#: Samples mixed per call of ``AudioMixer.mix``.
CHUNK = 2048

SILENT = "Playing without sound"


def load_sounddevice() -> Any:
    """The sounddevice module: the one seam between playback and the sound card.

    Imported when playback first needs it, not with the app: sounddevice raises
    OSError at import when the PortAudio library is missing."""
    import sounddevice

    return sounddevice


def sound_output_problem() -> str:
    """"" when an output device seems to be there, else why playback will be silent."""
    try:
        sounddevice = load_sounddevice()
    except OSError:
        return f"{SILENT}: the PortAudio library is missing (install libportaudio2)"
    except ImportError:
        return f"{SILENT}: the sounddevice package is not installed (pip install sounddevice)"
    return "" if _has_output_device(sounddevice) else f"{SILENT}: no audio output device was found"


def _has_output_device(sounddevice: Any) -> bool:
    query = getattr(sounddevice, "query_devices", None)
    if query is None:
        return True
    try:
        devices = query()
    except Exception:  # PortAudioError: PortAudio could not list the devices
        return False
    return any(device.get("max_output_channels", 0) > 0 for device in devices)


class RingBuffer:
    """Frames × channels of float32 between one writer (the feeder) and one reader (the
    sound card's callback). The two running totals are the only shared state; each
    side moves only its own, so neither side waits on a lock."""

    def __init__(self, capacity: int, channels: int) -> None:
        self.data = np.zeros((capacity, channels), np.float32)
        self.capacity = capacity
        self.written = 0
        self.read = 0

    def free(self) -> int:
        return self.capacity - (self.written - self.read)

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (frames × channels); the caller checks :meth:`free` first."""
        count = len(block)
        begin = self.written % self.capacity
        first = min(count, self.capacity - begin)
        self.data[begin: begin + first] = block[:first]
        self.data[: count - first] = block[first:]
        self.written += count

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` (frames × channels) from the ring, silence where it runs dry;
        returns how many frames came from the ring."""
        count = min(len(out), self.written - self.read)
        begin = self.read % self.capacity
        first = min(count, self.capacity - begin)
        out[:first] = self.data[begin: begin + first]
        out[first:count] = self.data[: count - first]
        out[count:] = 0.0
        self.read += count
        return count


class SilentClock:
    """Playback time from the monotonic clock, for when no sound plays."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self._began = time.monotonic()

    def position(self) -> float:
        return min(self.end, self.start + time.monotonic() - self._began)

    def stop(self) -> None:
        """Nothing to let go of."""


class SoundOutput:
    """One play session with sound: a stream, its ring and the feeder thread.

    ``mix(first, count)`` gives timeline samples as float32 channels × count (an
    ``AudioMixer``'s ``mix``). :meth:`position` is the timeline second the device has
    been handed up to, less the latency the stream reports (what is being heard, so
    the picture matches the ear); past the last sample the device's own pace keeps
    counting through that latency, so playback ends when the end has been heard."""

    def __init__(self, mix: Callable[[int, int], np.ndarray], start: float, end: float,
                 on_error: Callable[[str], None] = lambda message: None) -> None:
        self.mix, self.on_error = mix, on_error
        self.first_sample = round(start * RATE)
        self.end_sample = max(self.first_sample, math.ceil(end * RATE))
        self.end = end
        self.ring = RingBuffer(int(AHEAD_SECONDS * RATE), CHANNELS)
        #: Timeline samples the callback has handed to the device (only the callback moves it).
        self.delivered = 0
        #: Silent samples the device asked for after the last one was handed over.
        self.tail = 0
        #: Seconds between handing a sample to the device and hearing it.
        self.latency = 0.0
        self._fed_all = False
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self._stream: Any = None

    def open(self) -> str:
        """Start the sound; "" when it plays, else why it cannot (then nothing is left running)."""
        problem = sound_output_problem()
        if problem:
            return problem
        sounddevice = load_sounddevice()
        self._feeder = threading.Thread(target=self._feed, name="reelgraph-playback-sound", daemon=True)
        self._feeder.start()
        try:
            self._stream = sounddevice.OutputStream(samplerate=RATE, channels=CHANNELS, dtype="float32",
                                                    callback=self._callback)
            self._stream.start()
            self.latency = max(0.0, float(getattr(self._stream, "latency", 0.0) or 0.0))
        except Exception as error:  # PortAudioError, or a device that refuses the format
            self.stop()
            if not _has_output_device(sounddevice):
                return f"{SILENT}: no audio output device was found"
            return f"{SILENT}: the sound output could not be opened ({error})"
        return ""

    def position(self) -> float:
        heard = (self.first_sample + self.delivered + self.tail) / RATE - self.latency
        return min(self.end, max(self.first_sample / RATE, heard))

    def stop(self) -> None:
        """Stop the device at once (what it was handed but not yet played is dropped) and the feeder."""
        self._stop.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # a device that vanished while playing: nothing more to stop
                pass
        if self._feeder is not None:
            self._feeder.join()
            self._feeder = None

    def _callback(self, outdata: np.ndarray, frames: int, timing: Any, status: Any) -> None:
        handed = self.ring.read_into(outdata)
        self.delivered += handed
        if handed < frames and self._fed_all and self.ring.written == self.ring.read:
            self.tail += frames - handed

    def _feed(self) -> None:
        """Keep the ring about :data:`AHEAD_SECONDS` ahead of the device until the end."""
        sample = self.first_sample
        reported = False
        while not self._stop.is_set() and sample < self.end_sample:
            count = min(CHUNK, self.end_sample - sample, self.ring.free())
            if count < min(CHUNK, self.end_sample - sample):
                self._stop.wait(0.005)
                continue
            try:
                block = self.mix(sample, count)
            except Exception as error:  # a file that stops decoding: say so once, keep time with silence
                if not reported:
                    self.on_error(f"The sound at {sample / RATE:.2f} s could not be mixed: {error}")
                    reported = True
                block = np.zeros((CHANNELS, count), np.float32)
            self.ring.write(block.T)
            sample += count
        self._fed_all = sample >= self.end_sample
