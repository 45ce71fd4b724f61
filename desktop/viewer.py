"""The viewer: the output of the selected (or last) node, step previews while a node
runs, and video (or a batch of images) frame by frame with a slider.

Zoom follows the window (fit) until the creator zooms with the wheel; double-click
or the fit button goes back to fit. Drag to pan.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget

from desktop.pictures import to_qimage
from desktop.theme import BORDER, DARKEST, TEXT_DIM, icon
from nodes.types import Video

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0


def is_picture(value: Any) -> bool:
    return (isinstance(value, np.ndarray) and value.size > 0
            and (value.ndim == 2 or (value.ndim == 3 and value.shape[2] in (1, 3, 4))))


def displayable(value: Any) -> bool:
    """The viewer can show this value: a picture, a mask, a video or a list of pictures."""
    if isinstance(value, Video):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(is_picture(item) for item in value)
    return is_picture(value)


class ImageCanvas(QWidget):
    """Paints one picture: fit to the widget, or zoomed and panned."""

    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.placeholder = "Run the graph (Ctrl+Enter) to see its results here"
        self.zoom: float | None = None  # None: fit
        self.offset = QPointF(0, 0)
        self._drag_from: QPointF | None = None
        self._scaled: QImage | None = None
        self._scaled_key: tuple[int, int, int] | None = None
        self.setMinimumSize(120, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)

    def set_image(self, image: QImage | None, keep_view: bool = True) -> None:
        same_size = self.image is not None and image is not None and self.image.size() == image.size()
        self.image = image
        if not (keep_view and same_size):
            self.offset = QPointF(0, 0)
        self.update()
        self.zoomChanged.emit(self.effective_zoom())

    def fit(self) -> None:
        self.zoom = None
        self.offset = QPointF(0, 0)
        self.update()
        self.zoomChanged.emit(self.effective_zoom())

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        old = self.effective_zoom()
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if anchor is not None and old > 0:
            centre = QPointF(self.width() / 2, self.height() / 2)
            # keep the pixel under the anchor where it is
            self.offset = (anchor - centre) - (anchor - centre - self.offset) * (zoom / old)
        self.zoom = zoom
        self.update()
        self.zoomChanged.emit(zoom)

    def effective_zoom(self) -> float:
        if self.image is None or self.image.isNull():
            return 1.0
        if self.zoom is not None:
            return self.zoom
        width, height = max(1, self.width() - 16), max(1, self.height() - 16)
        return min(width / self.image.width(), height / self.image.height())

    def image_rect(self) -> QRectF:
        assert self.image is not None
        zoom = self.effective_zoom()
        width, height = self.image.width() * zoom, self.image.height() * zoom
        centre = QPointF(self.width() / 2, self.height() / 2) + self.offset
        return QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(DARKEST))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor(TEXT_DIM))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        rect = self.image_rect()
        smooth = self.effective_zoom() < 2.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(rect, self._shown_image(rect))
        painter.setPen(QPen(QColor(BORDER), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))

    def _shown_image(self, rect: QRectF) -> QImage:
        """What to paint: below 75 % a copy scaled once to the shown size, since scaling
        a 4K frame on every repaint would stall the window."""
        assert self.image is not None
        if self.effective_zoom() >= 0.75:
            return self.image
        size = QSize(max(1, round(rect.width())), max(1, round(rect.height())))
        key = (self.image.cacheKey(), size.width(), size.height())
        if self._scaled_key != key:
            source = self.image
            if source.width() > 4 * size.width():  # a cheap first step keeps the smooth one small
                source = source.scaled(size * 2, Qt.AspectRatioMode.IgnoreAspectRatio,
                                       Qt.TransformationMode.FastTransformation)
            self._scaled = source.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
            self._scaled_key = key
        return self._scaled  # type: ignore[return-value]

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.zoom is None:
            self.zoomChanged.emit(self.effective_zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.image is None:
            return
        steps = event.angleDelta().y() / 120
        self.set_zoom(self.effective_zoom() * (1.25 ** steps), event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self.offset += event.position() - self._drag_from
            self._drag_from = event.position()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_from = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when it does not fit, rather than being cut."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)


class Viewer(QWidget):
    """The viewer panel: a canvas, a caption with the zoom, and a frame bar for video."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = ImageCanvas(self)
        self.caption = ElidedLabel("", self)
        self.caption.setObjectName("viewerCaption")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.zoom_label = QLabel("", self)
        self.zoom_label.setObjectName("viewerCaption")
        fit_button = self._button("fit", "Zoom to fit (double-click the picture)", self.canvas.fit)
        actual_button = self._button("zoom-actual", "Actual size (100%)", lambda: self.canvas.set_zoom(1.0))
        top = QHBoxLayout()
        top.setContentsMargins(8, 4, 4, 0)
        top.setSpacing(8)
        top.addWidget(self.caption, 1)
        top.addWidget(self.zoom_label)
        top.addWidget(fit_button)
        top.addWidget(actual_button)

        self.play_button = self._button("play", "Play", self.toggle_playing)
        self.frame_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.frame_slider.setRange(0, 0)
        self.frame_slider.valueChanged.connect(self.show_frame)
        self.frame_label = QLabel("", self)
        self.frame_label.setObjectName("viewerCaption")
        self.frame_bar = QWidget(self)
        frames = QHBoxLayout(self.frame_bar)
        frames.setContentsMargins(8, 0, 8, 4)
        frames.addWidget(self.play_button)
        frames.addWidget(self.frame_slider, 1)
        frames.addWidget(self.frame_label)
        self.frame_bar.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.frame_bar)
        self.canvas.zoomChanged.connect(self._show_zoom)

        self.frames: Sequence[np.ndarray] = ()
        self.fps = 0.0
        self.array: np.ndarray | None = None
        self.source_node: str | None = None
        self.is_preview = False
        self._player = QTimer(self)
        self._player.timeout.connect(self._next_frame)

    def _show_zoom(self, zoom: float) -> None:
        image = self.canvas.image
        if image is None or image.isNull():
            self.zoom_label.setText("")
        else:
            self.zoom_label.setText(f"{image.width()}×{image.height()}  ·  {zoom * 100:.0f}%")

    def _button(self, icon_name: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon(icon_name))
        button.setIconSize(QSize(16, 16))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    # ----- what to show ------------------------------------------------------------------------
    def show_value(self, value: Any, caption: str = "", node_id: str | None = None) -> bool:
        """Show a node's output; False (and nothing changes) when it is not a picture or video."""
        if isinstance(value, Video):
            self._show_frames(value.frames, value.fps, caption, node_id)
        elif isinstance(value, (list, tuple)) and displayable(value):
            self._show_frames(list(value), 0.0, caption, node_id)
        elif displayable(value):
            self._stop_frames()
            self._set_array(value, caption, node_id)
        else:
            return False
        self.is_preview = False
        return True

    def show_preview(self, preview: Any, caption: str = "", node_id: str | None = None) -> None:
        """A step preview of a running node (replaced by its result when it finishes)."""
        if not is_picture(preview):
            return
        self._stop_frames()
        self._set_array(preview, caption, node_id)
        self.is_preview = True

    def clear(self, message: str = "") -> None:
        self._stop_frames()
        self.array = None
        self.source_node = None
        self.is_preview = False
        self.caption.setText("")
        if message:
            self.canvas.placeholder = message
        self.canvas.set_image(None)

    # ----- frames --------------------------------------------------------------------------------
    def show_frame(self, index: int) -> None:
        if len(self.frames) == 0:
            return
        index = max(0, min(index, len(self.frames) - 1))
        self.array = self.frames[index]
        self.canvas.set_image(to_qimage(self.array))
        self.frame_label.setText(f"{index + 1} / {len(self.frames)}")

    def toggle_playing(self) -> None:
        if self._player.isActive():
            self._player.stop()
            self.play_button.setIcon(icon("play"))
        elif len(self.frames):
            self._player.start(max(15, round(1000 / (self.fps or 8.0))))
            self.play_button.setIcon(icon("pause"))

    def _next_frame(self) -> None:
        count = len(self.frames)
        if count:
            self.frame_slider.setValue((self.frame_slider.value() + 1) % count)

    def _show_frames(self, frames: Sequence[np.ndarray], fps: float, caption: str, node_id: str | None) -> None:
        self._stop_frames()
        self.frames = frames
        self.fps = fps
        self.source_node = node_id
        rate = f", {fps:g} fps" if fps else ""
        self.caption.setText(f"{caption}  ·  {len(frames)} frame(s){rate}".strip(" ·"))
        self.frame_bar.setVisible(len(frames) > 1)
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, len(frames) - 1)
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.show_frame(0)

    def _stop_frames(self) -> None:
        self._player.stop()
        self.play_button.setIcon(icon("play"))
        self.frames = ()
        self.frame_bar.hide()

    def _set_array(self, array: np.ndarray, caption: str, node_id: str | None) -> None:
        self.array = array
        self.source_node = node_id
        self.caption.setText(caption)
        self.canvas.set_image(to_qimage(array))
