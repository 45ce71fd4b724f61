"""The live sketch canvas's engine: draw, and the picture follows the pen.

Qt-free; the Live Sketch panel (``desktop/live_sketch*.py``) drives it::

    session = LiveSession(executor, model, settings_for(model, prompt="a castle"),
                          on_result=show, on_error=say, on_state=set_busy)
    session.update(canvas, ongoing=True)     # pen moving: waits the adaptive pause
    session.update(canvas)                   # pen up (fill, undo, clear): painted at once
    session.update(settings=replace(session.settings, prompt="a fortress"))
    strip = session.variations(4)            # one batched call, 4 seeds; blocks (or
    session.request_variations(4, on_done)   #   this, which calls back when done)
    session.adopt(strip[2])                  # its seed becomes the session's
    session.history.entries(); session.export_history("session.zip")
    session.close()

``LiveSession(executor, model: ModelRef, settings: LiveSettings | None = None, *,
on_result, on_error, on_state, on_event, tiny_decoding=True, history_folder=None,
history_bytes=256 MiB, pause: AdaptivePause | None = None)``; settings come from
``gpu.live_settings`` (``LiveSettings``, ``settings_for(model, **choices)``).

- ``update(canvas=None, settings=None, *, ongoing=False) -> int`` on every change.
  ``canvas``: uint8 H×W×3 (RGB) or H×W×4 (RGBA, shown on white paper). The session
  keeps a read-only view of it, not a copy: hand over a new array for each change
  and do not draw into it afterwards. Without a canvas, the last one is repainted
  (new settings). Returns the request's number. ``ongoing=True``: more is coming
  (pen still down, keys still typed), so it waits the adaptive pause (30 ms, +15 ms
  per fast change up to 120 ms, at most 250 ms or one generation after the first
  change it gathers: ``AdaptivePause``); otherwise it starts at once.
- Only the latest request matters: a newer one replaces a waiting one (dropped,
  never run); when it starts, the run in flight is cancelled through its CancelToken
  and stops at its next denoising step boundary.
- Callbacks, all on worker threads (the panel re-posts them to the GUI thread):
  ``on_result(LiveResult)`` each picture, never an older request's after a newer
  one's; ``on_error(LiveError)`` a failure in words (a missing model, a bad value),
  after which the session keeps working; ``on_state(busy: bool)`` when work starts
  and stops waiting or running; ``on_event(RunEvent)`` (optional) every run's
  executor events, step previews included when the executor makes them.
- ``LiveResult(image, sketch, canvas_version, request, settings, timings, entry,
  source)``: ``image`` is the picture (uint8, read-only), ``sketch`` the canvas it
  came from, ``source`` "live" or "variation", ``entry`` its history entry, and
  ``timings`` (``LiveTimings``, seconds): ``model``, ``pause``, ``queued``,
  ``overhead`` (stroke_to_shown - pause - model: the session's own cost), ``total``
  (run start → handed over), ``stroke_to_shown``, and ``requested_at``
  (``time.perf_counter()`` at the update, for the panel to add its paint time).
- ``LiveError(message, canvas_version, request, settings)``; ``LiveVariation(image,
  seed, canvas_version, sketch, settings)``; ``variations`` raises ``LiveFailure``.
- ``adopt(variation) -> LiveSettings``: its seed becomes the session's; its picture
  is shown at once when this session painted it from the canvas, settings and model
  now in use and nothing newer is on its way, else the canvas is repainted.
- Properties ``settings``, ``model``, ``tiny_decoder`` (the TAESD folder in use, or
  None), ``busy``, ``superseded`` (``SupersededRun``: when each cancelled run was
  superseded and stopped); ``set_model(model)``; ``history`` (``LiveHistory``:
  ``entries()``, each ``HistoryEntry`` with ``image()``, ``sketch()``, ``settings``,
  ``timings``); ``export_history(path)``; counters ``started``, ``dropped``,
  ``failed``; ``closed``.
- ``close()`` cancels every run, waits (a few seconds at most) for them to stop, and
  then lets go of the canvas and history: no callback is called after it returns.
- Variations run beside the live requests: a stroke does not cancel them (the
  creator asked for them), and a stroke's picture waits for the device meanwhile.

Every picture runs through a real workflow on the shared :class:`gpu.executor.Executor`
(``gpu/live_graph.py``): the canvas enters it by reference (``live.Canvas``), so
neither JSON nor a hash ever touches the pixels.
"""

from __future__ import annotations

import logging
import random
from collections import deque
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gpu.events import RunEvent, RunResult
from gpu.executor import Executor, RunHandle
from gpu.live_graph import (
    CANVAS, PAINT, PREVIEW, VARIATIONS, find_tiny_decoder, known_family, live_graph, variations_graph,
)
from gpu.live_history import MEMORY_BYTES, LiveHistory, LiveTimings
from gpu.live_results import (
    LiveError, LiveFailure, LiveResult, LiveVariation, SupersededRun, problems_in_words, run_failure, when_done,
)
from gpu.live_runs import LiveRequest, RunningRequest, VariationBatch, VariationRuns, wait_for_variations
from gpu.live_settings import AdaptivePause, LiveSettings
from nodes.library.core import SEED_MAX
from nodes.live_canvas import open_canvas
from nodes.models import ModelRef, models_folder
from nodes.problems import WorkflowError

__all__ = ["LiveError", "LiveFailure", "LiveResult", "LiveSession", "LiveSettings", "LiveTimings", "LiveVariation",
           "SupersededRun"]

log = logging.getLogger("reelgraph.live")

#: How much of the last generation time the estimate keeps (the rest is the newest).
GENERATION_MEMORY = 0.7
#: Cancelled runs remembered for ``superseded`` (a long session cancels thousands).
KEPT_SUPERSEDED = 1000
#: How long ``close`` waits for cancelled runs to stop before it lets go of the canvas.
SETTLE_SECONDS = 5.0


class LiveSession:
    def __init__(self, executor: Executor, model: ModelRef, settings: LiveSettings | None = None, *,
                 on_result: Callable[[LiveResult], None] | None = None,
                 on_error: Callable[[LiveError], None] | None = None,
                 on_state: Callable[[bool], None] | None = None,
                 on_event: Callable[[RunEvent], None] | None = None,
                 tiny_decoding: bool = True, history_folder: Path | None = None,
                 history_bytes: int = MEMORY_BYTES, pause: AdaptivePause | None = None) -> None:
        self.executor = executor
        self.on_result, self.on_error, self.on_state, self.on_event = on_result, on_error, on_state, on_event
        self.tiny_decoding = tiny_decoding
        self.history = LiveHistory(history_folder, history_bytes)
        self._pause = pause or AdaptivePause()
        self._canvas = open_canvas()
        self._settings = settings or LiveSettings()
        self._model = model
        self._tiny_decoder: Path | None = None
        self._sketch: np.ndarray | None = None
        self._canvas_version = 0
        self._canvas_reference = ""
        self._serial = 0
        self._pending: LiveRequest | None = None
        self._runs: dict[int, RunningRequest] = {}
        self._variations = VariationRuns()
        self._starting = 0
        self._superseded: deque[SupersededRun] = deque(maxlen=KEPT_SUPERSEDED)
        self._generation = 0.0
        self._delivered = 0
        self.dropped = self.started = self.failed = 0
        self._random = random.Random()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)  # a run ended: close() may be waiting
        self._deliver_lock = threading.RLock()  # on_result may adopt a variation
        self._state_lock = threading.RLock()
        self._busy = False
        self._closed = False
        self.set_model(model, repaint=False)
        self._dispatcher = threading.Thread(target=self._dispatch_forever, name="reelgraph-live", daemon=True)
        self._dispatcher.start()

    # ----- what the panel reads ----------------------------------------------------
    @property
    def settings(self) -> LiveSettings:
        return self._settings

    @property
    def model(self) -> ModelRef:
        return self._model

    @property
    def tiny_decoder(self) -> Path | None:
        return self._tiny_decoder

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def superseded(self) -> list[SupersededRun]:
        with self._lock:
            return list(self._superseded)

    # ----- changes -------------------------------------------------------------------
    def update(self, canvas: np.ndarray | None = None, settings: LiveSettings | None = None, *,
               ongoing: bool = False) -> int:
        """A change to paint (see the module docstring); returns the request's number."""
        now = time.perf_counter()
        with self._lock:
            if self._closed:
                raise RuntimeError("this live session is closed")
            if canvas is not None:
                self._canvas_version, self._canvas_reference = self._canvas.put(canvas)
                self._sketch = self._canvas.get(self._canvas_version)
            if settings is not None:
                self._settings = settings
            if self._sketch is None:
                return self._serial  # nothing drawn yet: settings are kept for the first stroke
            self._serial += 1
            gathering = self._pending.gathering_since if self._pending is not None else None
            if self._pending is not None:
                self.dropped += 1
            self._pending = LiveRequest(
                self._serial, self._canvas_version, self._canvas_reference, self._sketch, self._settings,
                self._model, self._tiny_decoder, now, self._pause.due(now, ongoing, gathering, self._generation),
                gathering if gathering is not None else now)
            self._wake.notify()
            serial = self._serial
        self._report_state()
        return serial

    def set_model(self, model: ModelRef, repaint: bool = True) -> None:
        """Paint with another model from now on (the last canvas is repainted)."""
        model = known_family(model)
        decoder = find_tiny_decoder(model, self.executor.models.folder or models_folder()) \
            if self.tiny_decoding else None
        with self._lock:
            self._model, self._tiny_decoder = model, decoder
        if repaint:
            self.update()

    # ----- variations and adopting one ------------------------------------------------
    def request_variations(self, count: int, on_done: Callable[[list[LiveVariation]], None],
                           on_error: Callable[[LiveError], None] | None = None) -> None:
        """Paint the current canvas with ``count`` other seeds in one batched call;
        ``on_done(variations)`` or ``on_error(LiveError)`` on a worker thread."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this live session is closed")
            if self._sketch is None:
                raise ValueError("draw something first: there is no canvas to vary")
            version, canvas, sketch = self._canvas_version, self._canvas_reference, self._sketch
            settings, model, decoder = self._settings, self._model, self._tiny_decoder
            first = self._random.randrange(SEED_MAX - count)
            self._variations.begin(VariationBatch(version, first, count, model, decoder))
        self._report_state()
        failed = on_error or self._say
        launched: list[RunHandle] = []

        def finished(result: RunResult | None, message: str) -> None:
            with self._lock:
                self._variations.end(launched)
                self._settled.notify_all()
            self._report_state()
            with self._deliver_lock:  # close() waits for this, and nobody hears after it
                if self._closed:
                    return
                if result is None or not result.ok:
                    failed(LiveError(message or run_failure(result), version, 0, settings))
                    return
                images = result.output(VARIATIONS, "images")
                on_done([LiveVariation(image, first + index, version, sketch, settings.with_seed(first + index))
                         for index, image in enumerate(images)])

        graph = variations_graph(model, canvas, settings, decoder, first, count)
        handle = self._launch(graph, [VARIATIONS], lambda message: finished(None, message))
        if handle is None:
            return
        with self._lock:
            launched.append(handle)
            self._variations.handles.add(handle)
            closed = self._closed
        if closed:  # close() came while it was being submitted
            handle.cancel("the live session was closed")
        when_done(handle, finished)

    def variations(self, count: int = 4, timeout: float | None = None) -> list[LiveVariation]:
        """``request_variations``, waiting for them; LiveFailure with the reason."""
        return wait_for_variations(lambda done, failed: self.request_variations(count, done, failed), timeout,
                                   lambda: self._closed)

    def adopt(self, variation: LiveVariation) -> LiveSettings:
        """Make ``variation``'s seed the session's; returns the new settings. Its picture
        is shown at once only when it is what painting now would give: the same canvas,
        settings (prompt, seed, ...), model and tiny decoder, with no newer request on
        its way; otherwise (the prompt changed since, say) the canvas is repainted."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this live session is closed")
            self._settings = self._settings.with_seed(variation.seed)
            settings = self._settings
            current = (variation.settings == settings and variation.canvas_version == self._canvas_version
                       and self._variations.painted_with(variation, self._model, self._tiny_decoder)
                       and self._pending is None and not self._runs and self._starting == 0)
        if not current:
            self.update()
            return settings
        with self._deliver_lock:
            if self._closed:
                return settings
            entry = self.history.add(variation.image, variation.sketch, variation.canvas_version, settings,
                                     LiveTimings(), "variation")
            result = LiveResult(variation.image, variation.sketch, variation.canvas_version, self._delivered,
                                settings, entry.timings, entry, "variation")
            self._call(self.on_result, result)
        return settings

    def export_history(self, path: str | Path) -> Path:
        """Every picture shown and its sketch as a ZIP (see ``gpu/live_history.py``)."""
        return self.history.export(path, self._model.name)

    def close(self) -> None:
        """Cancel what runs, stop the dispatcher, wait for the runs to stop, and let go
        of the canvas and history. A run still being submitted cancels itself when it
        registers (``_start``); whatever ends later is heard by nobody."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pending = None
            handles = [running.handle for running in self._runs.values()] + list(self._variations.handles)
            self._wake.notify()
        for handle in handles:
            handle.cancel("the live session was closed")
        if threading.current_thread() is not self._dispatcher:
            self._dispatcher.join(timeout=SETTLE_SECONDS)
        with self._lock:
            self._settled.wait_for(lambda: not self._runs and self._starting == 0 and not self._variations.running,
                                   SETTLE_SECONDS)
        with self._deliver_lock, self._state_lock:  # a callback under way finishes first
            self._canvas.close()
            self.history.close()

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- the dispatcher: the latest request, after its pause -----------------------------
    def _dispatch_forever(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (self._pending is None or self._pending.due > time.perf_counter()):
                    self._wake.wait(None if self._pending is None else self._pending.due - time.perf_counter())
                if self._closed:
                    return
                request, self._pending = self._pending, None
                self._starting += 1
                now = time.perf_counter()
                stale = [running for running in self._runs.values() if running.superseded_at is None]
                for running in stale:
                    running.superseded_at = now
            for running in stale:
                running.handle.cancel("a newer stroke superseded it")
            assert request is not None
            self._start(request)

    def _start(self, request: LiveRequest) -> None:
        graph = live_graph(request.model, request.canvas, request.settings, request.tiny_decoder)
        started_at = time.perf_counter()
        handle = self._launch(graph, [PREVIEW], lambda message: self._finished(None, request, None, message))
        with self._lock:
            self._starting -= 1
            self._settled.notify_all()
            closed = self._closed
            if handle is not None:
                running = RunningRequest(request, handle, started_at)
                self._runs[request.serial] = running
                self.started += 1
        if handle is None:
            self._report_state()
            return
        if closed:  # close() took its snapshot of the runs while this one was being submitted
            handle.cancel("the live session was closed")
        when_done(handle, lambda result, message: self._finished(running, request, result, message))

    def _launch(self, graph: Any, targets: list[str], could_not_start: Callable[[str], None]) -> RunHandle | None:
        """Submit a run; None (after ``could_not_start(message)``) when it cannot start."""
        try:
            return self.executor.submit(graph, targets, on_event=self.on_event)
        except WorkflowError as error:
            could_not_start(problems_in_words(error))
        except RuntimeError as error:  # the executor was closed
            could_not_start(f"the live canvas cannot paint: {error}")
        return None

    # ----- outcomes --------------------------------------------------------------------------
    def _finished(self, running: RunningRequest | None, request: LiveRequest, result: RunResult | None, message: str) -> None:
        stopped_at = time.perf_counter()
        if running is not None:  # strokes never come back: their canvas and pictures leave the shared cache
            keys = running.handle.plan.keys
            self.executor.cache.discard(keys[node_id] for node_id in (CANVAS, PAINT, PREVIEW) if node_id in keys)
        with self._lock:
            self._runs.pop(request.serial, None)
            self._settled.notify_all()
            superseded = running is not None and running.superseded_at is not None
            if superseded:
                self._superseded.append(SupersededRun(
                    request.serial, running.handle.run_id, running.superseded_at,  # type: ignore[union-attr,arg-type]
                    stopped_at, bool(result is not None and result.ok)))
            if result is not None and result.ok and PAINT in result.timings:
                model_seconds = result.timings[PAINT]
                self._generation = (GENERATION_MEMORY * self._generation + (1 - GENERATION_MEMORY) * model_seconds
                                    if self._generation else model_seconds)
        if result is not None and result.ok:
            self._deliver(request, running, result)
        elif not (result is not None and result.cancelled) and not superseded:
            self.failed += 1
            self._report_failure(request, message or run_failure(result))
        self._report_state()

    def _deliver(self, request: LiveRequest, running: RunningRequest | None, result: RunResult) -> None:
        image = result.output(PREVIEW, "image")
        model_seconds = result.timings.get(PAINT, 0.0)
        queued = max(0.0, result.elapsed - sum(result.timings.values()))
        with self._deliver_lock:
            if request.serial <= self._delivered or self._closed:
                return  # a newer picture is already shown, or nobody is looking any more
            self._delivered = request.serial
            shown = time.perf_counter()
            pause = max(0.0, request.due - request.requested_at)
            stroke_to_shown = shown - request.requested_at
            started_at = running.started_at if running is not None else request.due
            timings = LiveTimings(request.requested_at, pause, model_seconds, queued,
                                  max(0.0, stroke_to_shown - pause - model_seconds), shown - started_at,
                                  stroke_to_shown)
            entry = self.history.add(image, request.sketch, request.canvas_version, request.settings, timings)
            self._call(self.on_result, LiveResult(image, request.sketch, request.canvas_version, request.serial,
                                                  request.settings, timings, entry))

    def _report_failure(self, request: LiveRequest, message: str) -> None:
        with self._deliver_lock:  # close() waits for this, and nobody hears after it
            if request.serial <= self._delivered or self._closed:
                return
            self._say(LiveError(message, request.canvas_version, request.serial, request.settings))

    def _say(self, error: LiveError) -> None:
        log.warning("live sketch: %s", error.message)
        self._call(self.on_error, error)

    def _report_state(self) -> None:
        with self._state_lock:
            with self._lock:
                if self._closed:
                    return
                busy = (self._pending is not None or bool(self._runs) or self._starting > 0
                        or self._variations.running > 0)
            if busy != self._busy:
                self._busy = busy
                self._call(self.on_state, busy)

    @staticmethod
    def _call(callback: Callable[[Any], None] | None, value: Any) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:  # a broken listener must not stop the live canvas
            log.exception("a live sketch listener failed")
