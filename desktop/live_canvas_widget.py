"""The live sketch canvas: the surface a creator draws on with a pen (tablet pressure
thins the line), an eraser and a fill, with undo, and the painted picture laid over
it on demand.

The drawing lives in numpy arrays (``ink`` RGBA, an optional opaque ``base``; see
``desktop/live_canvas_edits.py``) that QPainter draws into through QImages wrapping
their buffers, so a stroke costs no conversion. The live session needs a new array
for each change, since it keeps the one it is handed: ``picture()`` makes one (a copy
of the ink, or ink over the base: half a millisecond at 512×512), and ``changed`` asks
for it at most every ``HANDOFF_SECONDS`` while the pen moves, once more at pen-up.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor, QDragEnterEvent, QDropEvent, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen,
    QPointingDevice, QResizeEvent, QTabletEvent, QUndoStack,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.live_canvas_edits import (
    ERASER, FILL, PEN, TOOLS, InkEdit, LayersEdit, Region, changed_region, fitted, flood_fill, pressure_width,
    resized_layers, wrap_pixels,
)
from desktop.live_files import dropped_picture
from desktop.theme import ACCENT, BORDER, DARKEST

#: While the pen moves, the session hears of the canvas at most this often.
HANDOFF_SECONDS = 0.030
DEFAULT_SIZE = 512
MARGIN = 14
UNDO_LIMIT = 200
SMALLEST_BRUSH, LARGEST_BRUSH = 1, 160


class LiveCanvasWidget(QWidget):
    """The drawing surface; ``changed(ongoing)`` after each change (ongoing while the
    pen is still down), ``fileDropped(path)`` for a picture dropped on it."""

    changed = Signal(bool)
    toolChanged = Signal(str)
    brushChanged = Signal(float)
    fileDropped = Signal(str)

    def __init__(self, parent: QWidget | None = None, width: int = DEFAULT_SIZE, height: int = DEFAULT_SIZE) -> None:
        super().__init__(parent)
        self.setObjectName("liveCanvas")
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self.tool = PEN
        self.colour = QColor("#1b1f24")
        self.brush_size = 8.0
        self.overlay: QImage | None = None
        self.overlay_opacity = 0.6
        self.overlay_visible = False
        self.handoffs = 0
        self._ink = np.zeros((height, width, 4), dtype=np.uint8)
        self._ink_image = wrap_pixels(self._ink, QImage.Format.Format_RGBA8888)
        self._base: np.ndarray | None = None
        self._base_image: QImage | None = None
        self._drawing = False
        self._erasing = False
        self._offered = False
        self._before: np.ndarray | None = None
        self._last_point = QPointF()
        self._last_width = 0.0
        self._hover: QPointF | None = None
        self._last_handoff = -math.inf
        self._handoff_timer = QTimer(self)
        self._handoff_timer.setSingleShot(True)
        self._handoff_timer.timeout.connect(lambda: self._hand_off(True) if self._drawing else None)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, True)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # ----- the pixels ------------------------------------------------------------------
    @property
    def ink(self) -> np.ndarray:
        """The layer the pen draws into (uint8 H×W×4, transparent = paper)."""
        return self._ink

    @property
    def base(self) -> np.ndarray | None:
        """The imported picture on white paper (uint8 H×W×3), or None."""
        return self._base

    def canvas_size(self) -> QSize:
        return QSize(self._ink.shape[1], self._ink.shape[0])

    def picture(self) -> np.ndarray:
        """A new array of what the canvas shows, for the live session to keep: the ink
        (RGBA, on paper) alone, or painted over the base (RGB)."""
        if self._base is None:
            return self._ink.copy()
        shown = self._base.copy()
        surface = wrap_pixels(shown, QImage.Format.Format_RGB888)  # kept alive while the painter works on it
        painter = QPainter(surface)
        painter.drawImage(0, 0, self._ink_image)
        painter.end()
        return shown

    def is_blank(self) -> bool:
        return self._base is None and not self._ink[:, :, 3].any()

    def stroke_width(self, pressure: float) -> float:
        return pressure_width(self.brush_size, pressure)

    # ----- tools -------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; one of {', '.join(TOOLS)}")
        if tool != self.tool:
            self.tool = tool
            self.update()
            self.toolChanged.emit(tool)

    def set_colour(self, colour: QColor) -> None:
        self.colour = QColor(colour)
        self.colour.setAlpha(255)

    def set_brush_size(self, size: float) -> None:
        size = float(min(LARGEST_BRUSH, max(SMALLEST_BRUSH, size)))
        if size != self.brush_size:
            self.brush_size = size
            self.update()
            self.brushChanged.emit(size)

    def set_overlay(self, image: QImage | None) -> None:
        self.overlay = image
        if self.overlay_visible:
            self.update()

    def set_overlay_visible(self, visible: bool) -> None:
        self.overlay_visible = visible
        self.update()

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay_opacity = min(1.0, max(0.0, opacity))
        self.update()

    # ----- edits (each one undo step) -------------------------------------------------------
    def fill_at(self, x: int, y: int) -> bool:
        """Fill the area around canvas pixel (x, y) with the colour; False off the canvas."""
        before = self._ink.copy()
        colour = (self.colour.red(), self.colour.green(), self.colour.blue())
        if not flood_fill(self._ink, self._base, x, y, colour):
            return False
        self._push_ink_edit(before, "Fill")
        self.update()
        self._hand_off(False)
        return True

    def clear(self) -> None:
        """A blank page: the drawing and the imported picture go (Undo brings them back)."""
        if self.is_blank():
            return
        self.undo_stack.push(LayersEdit(self, self._layers(), (np.zeros_like(self._ink), None), "Clear canvas"))

    def import_base(self, picture: np.ndarray) -> None:
        """Put a picture under the drawing, scaled to fit the canvas."""
        height, width = self._ink.shape[:2]
        after = (self._ink.copy(), fitted(picture, width, height))
        self.undo_stack.push(LayersEdit(self, self._layers(), after, "Import picture"))

    def set_canvas_size(self, width: int, height: int) -> None:
        """A canvas of another size, the drawing scaled to it."""
        if (height, width) == self._ink.shape[:2]:
            return
        after = resized_layers(self._ink, self._base, width, height)
        self.undo_stack.push(LayersEdit(self, self._layers(), after, f"Canvas {width}×{height}"))

    def restore_sketch(self, sketch: np.ndarray) -> None:
        """Put an earlier sketch (as ``picture()`` made it) back on the canvas: RGBA is
        ink on paper, RGB an imported picture with the ink painted in."""
        if sketch.ndim == 3 and sketch.shape[2] == 4:
            after: tuple[np.ndarray, np.ndarray | None] = (sketch.copy(), None)
        else:
            after = (np.zeros((*sketch.shape[:2], 4), dtype=np.uint8), np.ascontiguousarray(sketch[:, :, :3]))
        self.undo_stack.push(LayersEdit(self, self._layers(), after, "Back to an earlier sketch"))

    def restore_region(self, region: Region, pixels: np.ndarray) -> None:
        region.of(self._ink)[...] = pixels
        self.update()
        self._hand_off(False)

    def restore_layers(self, ink: np.ndarray, base: np.ndarray | None) -> None:
        self._set_layers(ink.copy(), None if base is None else base.copy())
        self.update()
        self._hand_off(False)

    def _layers(self) -> tuple[np.ndarray, np.ndarray | None]:
        return self._ink.copy(), None if self._base is None else self._base.copy()

    def _set_layers(self, ink: np.ndarray, base: np.ndarray | None) -> None:
        self._ink, self._ink_image = ink, wrap_pixels(ink, QImage.Format.Format_RGBA8888)
        self._base = base
        self._base_image = None if base is None else wrap_pixels(base, QImage.Format.Format_RGB888)

    def _push_ink_edit(self, before: np.ndarray, text: str) -> bool:
        region = changed_region(before, self._ink)
        if region is None:
            return False
        self.undo_stack.push(InkEdit(self, region, region.of(before), region.of(self._ink), text))
        return True

    # ----- strokes --------------------------------------------------------------------------
    def begin_stroke(self, point: QPointF, pressure: float = 1.0, erasing: bool = False) -> None:
        """Pen down at a canvas point (pixels); the fill tool fills there instead."""
        if self.tool == FILL and not erasing:
            self.fill_at(int(point.x()), int(point.y()))
            return
        self._drawing, self._offered = True, False
        self._erasing = erasing or self.tool == ERASER
        self._before = self._ink.copy()
        self._last_point, self._last_width = point, self.stroke_width(pressure)
        painter = self._painter()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._stroke_colour())
        painter.drawEllipse(point, self._last_width / 2, self._last_width / 2)
        painter.end()
        self.update()
        self._offer()

    def extend_stroke(self, point: QPointF, pressure: float = 1.0) -> None:
        if not self._drawing:
            return
        width = self.stroke_width(pressure)
        pen = QPen(self._stroke_colour(), (width + self._last_width) / 2, Qt.PenStyle.SolidLine,
                   Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter = self._painter()
        painter.setPen(pen)
        painter.drawLine(self._last_point, point)
        painter.end()
        self._last_point, self._last_width = point, width
        self.update()
        self._offer()

    def end_stroke(self) -> None:
        if not self._drawing:
            return
        self._drawing = False
        assert self._before is not None
        changed = self._push_ink_edit(self._before, "Erase" if self._erasing else "Stroke")
        self._before = None
        if changed or self._offered:
            self._hand_off(False)

    def _stroke_colour(self) -> QColor:
        return QColor(0, 0, 0, 255) if self._erasing else self.colour

    def _painter(self) -> QPainter:
        painter = QPainter(self._ink_image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._erasing:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationOut)
        return painter

    def _offer(self) -> None:
        """Hand the moving stroke over now, or when HANDOFF_SECONDS have passed since
        the last hand-over (so a pause at the end of a move is not missed)."""
        self._offered = True
        wait = HANDOFF_SECONDS - (time.perf_counter() - self._last_handoff)
        if wait <= 0:
            self._hand_off(True)
        elif not self._handoff_timer.isActive():
            self._handoff_timer.start(max(1, math.ceil(wait * 1000)))

    def _hand_off(self, ongoing: bool) -> None:
        self._handoff_timer.stop()
        self._last_handoff = time.perf_counter()
        self.handoffs += 1
        self.changed.emit(ongoing)

    # ----- where things are on screen ------------------------------------------------------------
    def canvas_rect(self) -> QRectF:
        """Where the canvas is drawn: fitted into the widget, centred."""
        height, width = self._ink.shape[:2]
        room_w, room_h = max(1, self.width() - 2 * MARGIN), max(1, self.height() - 2 * MARGIN)
        scale = min(room_w / width, room_h / height)
        shown_w, shown_h = width * scale, height * scale
        return QRectF((self.width() - shown_w) / 2, (self.height() - shown_h) / 2, shown_w, shown_h)

    def to_canvas(self, position: QPointF) -> QPointF:
        """A widget position in canvas pixels."""
        rect = self.canvas_rect()
        scale = rect.width() / self._ink.shape[1]
        return QPointF((position.x() - rect.left()) / scale, (position.y() - rect.top()) / scale)

    def from_canvas(self, point: QPointF) -> QPointF:
        rect = self.canvas_rect()
        scale = rect.width() / self._ink.shape[1]
        return QPointF(rect.left() + point.x() * scale, rect.top() + point.y() * scale)

    # ----- painting the widget ----------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(DARKEST))
        rect = self.canvas_rect()
        painter.fillRect(rect.adjusted(-1, 1, 3, 5), QColor(0, 0, 0, 120))  # a soft drop shadow
        painter.fillRect(rect, QColor("white"))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._base_image is not None:
            painter.drawImage(rect, self._base_image)
        painter.drawImage(rect, self._ink_image)
        if self.overlay_visible and self.overlay is not None:
            painter.setOpacity(self.overlay_opacity)
            painter.drawImage(rect, self.overlay)
            painter.setOpacity(1.0)
        painter.setPen(QPen(QColor(BORDER), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if self._hover is not None and self.tool in (PEN, ERASER) and not self._drawing:
            self._paint_brush_outline(painter, rect)

    def _paint_brush_outline(self, painter: QPainter, rect: QRectF) -> None:
        assert self._hover is not None
        radius = max(2.0, self.brush_size * rect.width() / self._ink.shape[1] / 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 150), 2.5))
        painter.drawEllipse(self._hover, radius, radius)
        painter.setPen(QPen(QColor(ACCENT) if self.tool == ERASER else QColor(255, 255, 255, 220), 1))
        painter.drawEllipse(self._hover, radius, radius)

    # ----- mouse, tablet and keys -------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self._drawing:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.begin_stroke(self.to_canvas(event.position()))
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover = event.position()
        if self._drawing:
            self.extend_stroke(self.to_canvas(event.position()))
        else:
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.end_stroke()

    def tabletEvent(self, event: QTabletEvent) -> None:
        """A pen on a tablet: its pressure thins the line, its eraser end erases. Accepted,
        so Qt does not also send the mouse events it would make of it."""
        point = self.to_canvas(event.position())
        kind = event.type()
        if kind == QEvent.Type.TabletPress and not self._drawing:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            erasing = event.pointerType() == QPointingDevice.PointerType.Eraser
            self.begin_stroke(point, event.pressure(), erasing)
        elif kind == QEvent.Type.TabletMove:
            self._hover = event.position()
            if self._drawing:
                self.extend_stroke(point, event.pressure())
            else:
                self.update()
        elif kind == QEvent.Type.TabletRelease:
            self.end_stroke()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._hover = None  # the brush outline waits for the pen's next move over the new layout
        super().resizeEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()

    @staticmethod
    def _undo_key(event: QKeyEvent) -> str | None:
        """"undo", "redo" or None: Ctrl+Z, Ctrl+Shift+Z and Ctrl+Y."""
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return None
        if event.key() == Qt.Key.Key_Z:
            return "redo" if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else "undo"
        return "redo" if event.key() == Qt.Key.Key_Y else None

    def event(self, event: QEvent) -> bool:
        # Undo keys go to the canvas while it has focus, before any window-wide shortcut.
        if event.type() == QEvent.Type.ShortcutOverride and self._undo_key(event) is not None:  # type: ignore[arg-type]
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._undo_key(event)
        if action is not None:
            if not self._drawing:
                self.undo_stack.redo() if action == "redo" else self.undo_stack.undo()
            return
        key = event.key()
        if key == Qt.Key.Key_BracketLeft:
            self.set_brush_size(self.brush_size / 1.25)
        elif key == Qt.Key.Key_BracketRight:
            self.set_brush_size(self.brush_size * 1.25)
        elif key in (Qt.Key.Key_B, Qt.Key.Key_E, Qt.Key.Key_G) and not event.modifiers():
            self.set_tool({Qt.Key.Key_B: PEN, Qt.Key.Key_E: ERASER, Qt.Key.Key_G: FILL}[key])
        else:
            super().keyPressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_picture(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_picture(event)
        if path:
            event.acceptProposedAction()
            self.fileDropped.emit(path)

    def sizeHint(self) -> QSize:
        return QSize(560, 560)
