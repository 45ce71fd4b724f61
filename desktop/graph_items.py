"""What the canvas draws for each node.

A node is one QGraphicsItem that paints itself, sockets and all: no child items
and no embedded widgets (QGraphicsProxyWidget is what makes big graphs crawl in
other editors). Its layout (size, socket points, row texts) is worked out when the
node changes, never while painting; texts become QStaticText on the first close-up
paint. Far out (``canvas.far``) a node is one filled rectangle.

Items never change the document: the scene updates them from its signals.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPainterPath, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop import graph_style as style
from desktop.pictures import to_qimage
from nodes.graph import GraphNode, is_link
from nodes.spec import NodeSpec
from nodes.types import ANY

if TYPE_CHECKING:
    from desktop.graph_scene import GraphScene

RUN_STATES = ("idle", "queued", "running", "cached", "done", "error")
#: Step previews are kept at most this many pixels on their longest side.
PREVIEW_PIXELS = 384
BADGES = {"cached": ("CACHED", style.CACHED), "done": ("DONE", style.DONE)}


def format_value(value: Any) -> str:
    """A typed-in value as one short line of text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{round(value, 4):g}" if abs(value) < 1e6 else f"{value:.4g}"
    if isinstance(value, str):
        if not value.strip():
            return "—"
        line = value.split("\n", 1)[0]
        return line + " …" if "\n" in value else line
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)[:80]
    return str(value)


def preview_image(pixels: np.ndarray, longest: int = PREVIEW_PIXELS) -> QImage:
    """A step preview as a small QImage that owns its pixels (it is drawn on every
    repaint of its node, so it is scaled down once here)."""
    image = to_qimage(np.asarray(pixels))
    if max(image.width(), image.height()) > longest:
        return image.scaled(longest, longest, Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation)
    return image


def _chevron(expanded: bool) -> QPainterPath:
    path = QPainterPath()
    if expanded:
        path.moveTo(9, 11)
        path.lineTo(17, 11)
        path.lineTo(13, 17)
    else:
        path.moveTo(10, 10)
        path.lineTo(16, 14)
        path.lineTo(10, 18)
    path.closeSubpath()
    return path


CHEVRON_DOWN = _chevron(True)
CHEVRON_RIGHT = _chevron(False)


class NodeItem(QGraphicsItem):
    """One node: header with title, typed sockets, ``name: value`` rows, run state."""

    def __init__(self, canvas: "GraphScene", node_id: str, node: GraphNode, spec: NodeSpec | None) -> None:
        super().__init__()
        self.canvas = canvas
        self.node_id = node_id
        self.spec = spec
        self.category = spec.category if spec is not None else ""
        self.state = "idle"
        self.fraction: float | None = None
        self.message = ""
        self.preview: QImage | None = None
        self._texts: list[tuple[Any, Any, list[tuple[QPointF, QStaticText]]]] | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.relayout(node)
        self.setPos(node.pos[0], node.pos[1])
        self._update_tooltip()

    # ----- layout -------------------------------------------------------------------------
    def relayout(self, node: GraphNode) -> None:
        """Work out size, sockets and row texts from the node (after any change to it)."""
        self.prepareGeometryChange()
        metrics = style.fonts()
        spec = self.spec
        self.type_name = node.type
        self.bypassed = node.bypass
        self.collapsed = bool(node.extra.get("collapsed"))
        self.title = node.title or (spec.display_name if spec is not None else node.type.rsplit(".", 1)[-1])
        if spec is not None:
            inputs = [(item.name, item.type, item.accepts_constant) for item in spec.inputs]
            outputs = [(item.name, item.type) for item in spec.outputs]
        else:
            inputs = [(input_name, ANY, not is_link(value)) for input_name, value in node.inputs.items()]
            outputs = []
        self.input_types = {input_name: kind for input_name, kind, _ in inputs}
        self.output_types = dict(outputs)
        self.linked = {input_name for input_name, value in node.inputs.items() if is_link(value)}
        slots = [input_name for input_name, _, constant in inputs if not constant]
        fields = [input_name for input_name, _, constant in inputs if constant]
        title_width = style.text_width(metrics.title_metrics, self.title)
        self._texts = None
        self._slot_rows: list[tuple[float, str | None, str | None]] = []
        self._field_rows: list[tuple[float, str, str | None]] = []
        if self.collapsed:
            width = min(max(130.0, title_width + 64), style.NODE_MAX_WIDTH)
            middle = style.HEADER / 2
            self.input_points = {input_name: QPointF(0, middle) for input_name in self.input_types}
            self.output_points = {output: QPointF(width, middle) for output in self.output_types}
            self._body_height = style.HEADER
        else:
            row_metrics = metrics.row_metrics
            width = max(style.NODE_MIN_WIDTH, title_width + 96)
            rows = max(len(slots), len(outputs))
            for index in range(rows):
                left = style.text_width(row_metrics, slots[index]) if index < len(slots) else 0.0
                right = style.text_width(row_metrics, outputs[index][0]) if index < len(outputs) else 0.0
                width = max(width, left + right + 52)
            values = {}
            for input_name in fields:
                values[input_name] = None if input_name in self.linked else format_value(node.inputs.get(input_name))
                shown = style.text_width(row_metrics, values[input_name] or "")
                width = max(width, style.text_width(row_metrics, input_name) + min(shown, 110.0) + 64)
            width = min(width, style.NODE_MAX_WIDTH)
            top = style.HEADER + style.PAD
            self.input_points, self.output_points = {}, {}
            for index in range(rows):
                middle = top + index * style.ROW + style.ROW / 2
                left_name = slots[index] if index < len(slots) else None
                right_name = outputs[index][0] if index < len(outputs) else None
                if left_name is not None:
                    self.input_points[left_name] = QPointF(0, middle)
                if right_name is not None:
                    self.output_points[right_name] = QPointF(width, middle)
                self._slot_rows.append((middle, left_name, right_name))
            top += rows * style.ROW
            for index, input_name in enumerate(fields):
                middle = top + index * style.ROW + style.ROW / 2
                self.input_points[input_name] = QPointF(0, middle)
                self._field_rows.append((middle, input_name, values[input_name]))
            top += len(fields) * style.ROW
            self._body_height = top + style.PAD
        self.width = width
        self._header = QRectF(0, 0, width, style.HEADER)
        self._header_square = QRectF(0, style.HEADER - style.CORNER, width, style.CORNER)
        self._accent_rect = QRectF(0, style.HEADER - 2, width, 2)
        self._accent = style.accent_line(self.category)
        self._header_brush = style.HEADER_BRUSH if spec is not None else style.UNKNOWN_HEADER_BRUSH
        self._header_colour = style.NODE_HEADER if spec is not None else style.UNKNOWN_HEADER
        self._field_rects = [QRectF(12, middle - style.ROW / 2 + 2, width - 24, style.ROW - 4)
                             for middle, _, value in self._field_rows if value is not None]
        if self.collapsed:
            first_in = next(iter(self.input_types.values()), None)
            first_out = next(iter(self.output_types.values()), None)
            self._sockets = []
            if first_in is not None:
                self._sockets.append((QPointF(0, style.HEADER / 2), style.socket_pen(first_in),
                                      style.socket_brush(first_in) if self.linked else style.BODY_BRUSH))
            if first_out is not None:
                self._sockets.append((QPointF(width, style.HEADER / 2), style.socket_pen(first_out),
                                      style.socket_brush(first_out)))
        else:
            self._sockets = [(point, style.socket_pen(self.input_types[input_name]),
                              style.socket_brush(self.input_types[input_name]) if input_name in self.linked
                              else style.BODY_BRUSH) for input_name, point in self.input_points.items()]
            self._sockets += [(point, style.socket_pen(self.output_types[output]),
                               style.socket_brush(self.output_types[output]))
                              for output, point in self.output_points.items()]
        self._apply_height()

    def _apply_height(self) -> None:
        height = self._body_height
        self._preview_rect = QRectF()
        if self.preview is not None and not self.collapsed:
            shown_width = self.width - 2 * style.PAD
            shown_height = min(style.PREVIEW_MAX_HEIGHT,
                               shown_width * self.preview.height() / max(1, self.preview.width()))
            shown_width = shown_height * self.preview.width() / max(1, self.preview.height())
            self._preview_rect = QRectF((self.width - shown_width) / 2, height, shown_width, shown_height)
            height += shown_height + style.PAD
        self.height = height
        self.rect = QRectF(0, 0, self.width, height)
        margin = style.SOCKET_RADIUS + 2
        self._bounds = self.rect.adjusted(-margin, -3, margin, 3)
        self._shape = QPainterPath()
        self._shape.addRect(self.rect)
        self.canvas.overview_changed()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def header_rect(self) -> QRectF:
        return self._header

    def collapse_toggle_rect(self) -> QRectF:
        return QRectF(2, 2, 22, style.HEADER - 4)

    def far_brush(self) -> Any:
        """How the node is filled far out, where it is a plain rectangle."""
        if self.isSelected():
            return style.ACCENT_BRUSH
        if self.state == "error":
            return style.ERROR_BRUSH
        if self.state == "running":
            return style.RUNNING_BRUSH
        if self.bypassed:
            return style.BYPASSED_FAR_BRUSH
        return style.far_brush(self.category)

    # ----- run state ----------------------------------------------------------------------
    def set_run_state(self, state: str, fraction: float | None, preview: np.ndarray | None, message: str) -> None:
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}; expected one of {', '.join(RUN_STATES)}")
        changed = state != self.state or message != self.message
        self.state = state
        self.fraction = None if fraction is None else min(1.0, max(0.0, float(fraction)))
        self.message = message
        if preview is not None:
            self.prepareGeometryChange()
            self.preview = preview_image(preview)
            self._apply_height()
        elif state == "idle" and self.preview is not None:
            self.prepareGeometryChange()
            self.preview = None
            self._apply_height()
        if changed:
            self._update_tooltip()
            self.canvas.overview_changed()
        self.update()

    def _update_tooltip(self) -> None:
        if self.state == "error":
            self.setToolTip(self.message or "this node failed")
        elif self.spec is None:
            self.setToolTip(f"Unknown node type {self.type_name}: install the node pack that provides it.")
        else:
            lines = [f"{self.spec.display_name}  ({self.type_name})", self.spec.description]
            if self.state != "idle":
                lines.append({"queued": "Queued", "running": "Running", "cached": "Served from the cache",
                              "done": "Ran"}[self.state] + (f": {self.message}" if self.message else ""))
            self.setToolTip("\n".join(line for line in lines if line))

    # ----- painting -------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self.canvas.far:
            painter.fillRect(self.rect, self.far_brush())
            return
        self._paint_body(painter)
        if self._texts is None:
            self._texts = self._prepare_texts()
        for font, text_pen, entries in self._texts:
            painter.setFont(font)
            painter.setPen(text_pen)
            for point, text in entries:
                painter.drawStaticText(point, text)
        for point, socket_pen, socket_brush in self._sockets:
            painter.setPen(socket_pen)
            painter.setBrush(socket_brush)
            painter.drawEllipse(point, style.SOCKET_RADIUS, style.SOCKET_RADIUS)
        if self.preview is not None and not self._preview_rect.isNull():
            painter.drawImage(self._preview_rect, self.preview)
        if self.state != "idle":
            self._paint_state(painter)

    def _paint_body(self, painter: QPainter) -> None:
        rect, corner = self.rect, style.CORNER
        painter.setPen(style.NO_PEN)
        painter.setBrush(style.BODY_BRUSH)
        painter.drawRoundedRect(rect, corner, corner)
        painter.setBrush(self._header_brush)
        painter.drawRoundedRect(self._header, corner, corner)
        if not self.collapsed:
            painter.fillRect(self._header_square, self._header_colour)
            painter.fillRect(self._accent_rect, self._accent)
            if self._field_rects:
                painter.setBrush(style.FIELD_BRUSH)
                for field_rect in self._field_rects:
                    painter.drawRoundedRect(field_rect, 5, 5)
        painter.setBrush(style.CHEVRON_BRUSH)
        painter.drawPath(CHEVRON_RIGHT if self.collapsed else CHEVRON_DOWN)
        if self.bypassed:
            painter.setBrush(style.BYPASS_BRUSH)
            painter.drawRoundedRect(rect, corner, corner)
        if self.state == "error":
            painter.setPen(style.ERROR_OUTLINE_PEN)
        elif self.isSelected():
            painter.setPen(style.SELECTED_PEN)
        elif self.state == "running":
            painter.setPen(style.RUNNING_OUTLINE_PEN)
        elif self.bypassed:
            painter.setPen(style.BYPASS_OUTLINE_PEN)
        else:
            painter.setPen(style.OUTLINE_PEN)
        painter.setBrush(style.NO_BRUSH)
        painter.drawRoundedRect(rect, corner, corner)

    def _prepare_texts(self) -> list[tuple[Any, Any, list[tuple[QPointF, QStaticText]]]]:
        metrics = style.fonts()
        row_metrics = metrics.row_metrics
        row_height = row_metrics.height()
        reserve = 64 if not self.collapsed else 30
        title = metrics.title_metrics.elidedText(self.title, Qt.TextElideMode.ElideRight,
                                                 self.width - 28 - reserve)
        title_entry = [(QPointF(24, (style.HEADER - metrics.title_metrics.height()) / 2), static_text(title))]
        labels: list[tuple[QPointF, QStaticText]] = []
        dim: list[tuple[QPointF, QStaticText]] = []
        for middle, left, right in self._slot_rows:
            top = middle - row_height / 2
            if left is not None:
                labels.append((QPointF(14, top), static_text(left)))
            if right is not None:
                shown = row_metrics.elidedText(right, Qt.TextElideMode.ElideLeft, self.width / 2 - 14)
                right_edge = self.width - 14 - style.text_width(row_metrics, shown)
                labels.append((QPointF(right_edge, top), static_text(shown)))
        inner = self.width - 40
        for middle, input_name, value in self._field_rows:
            top = middle - row_height / 2
            if value is None:
                labels.append((QPointF(14, top), static_text(input_name)))
                continue
            name_width = style.text_width(row_metrics, input_name)
            value_width = style.text_width(row_metrics, value)
            if name_width + value_width + 12 > inner:
                name_width = min(name_width, max(inner * 0.45, inner - value_width - 12))
                value_width = inner - name_width - 12
            shown_name = row_metrics.elidedText(input_name, Qt.TextElideMode.ElideRight, name_width + 0.5)
            dim.append((QPointF(20, top), static_text(shown_name)))
            shown = row_metrics.elidedText(value, Qt.TextElideMode.ElideRight, max(value_width + 0.5, 12))
            labels.append((QPointF(self.width - 20 - style.text_width(row_metrics, shown), top), static_text(shown)))
        groups = [(metrics.title, style.TEXT_PEN, title_entry), (metrics.row, style.TEXT_PEN, labels),
                  (metrics.row, style.DIM_PEN, dim)]
        return [group for group in groups if group[2]]

    def _paint_state(self, painter: QPainter) -> None:
        state = self.state
        centre = QPointF(self.width - 17, style.HEADER / 2)
        if state == "queued":
            painter.setPen(style.QUEUED_PEN)
            painter.setBrush(style.NO_BRUSH)
            painter.drawEllipse(centre, 6.5, 6.5)
        elif state == "running":
            ring = QRectF(centre.x() - 7, centre.y() - 7, 14, 14)
            painter.setBrush(style.NO_BRUSH)
            painter.setPen(style.RING_BACK_PEN)
            painter.drawEllipse(ring)
            painter.setPen(style.RING_PEN)
            span = 90.0 if self.fraction is None else max(4.0, 360.0 * self.fraction)
            painter.drawArc(ring, 90 * 16, -int(span * 16))
        elif state == "error":
            painter.setPen(style.NO_PEN)
            painter.setBrush(style.ERROR_BRUSH)
            painter.drawEllipse(centre, 8, 8)
            painter.setPen(style.WHITE_PEN)
            painter.drawLine(QPointF(centre.x(), centre.y() - 4), QPointF(centre.x(), centre.y() + 1))
            painter.drawPoint(QPointF(centre.x(), centre.y() + 4))
        elif state in BADGES:
            label, colour = BADGES[state]
            metrics = style.fonts().badge_metrics
            width = style.text_width(metrics, label) + 10
            pill = QRectF(self.width - 8 - width, style.HEADER / 2 - 8, width, 16)
            painter.setPen(style.NO_PEN)
            painter.setBrush(style.brush(style.name(style.translucent(colour, 55))))
            painter.drawRoundedRect(pill, 8, 8)
            painter.setFont(style.fonts().badge)
            painter.setPen(style.pen(colour.name()))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)


def static_text(text: str) -> QStaticText:
    static = QStaticText(text)
    static.setTextFormat(Qt.TextFormat.PlainText)
    return static


class RerouteItem(NodeItem):
    """A bend in a wire: a small dot on a short stub, input left, output right."""

    def relayout(self, node: GraphNode) -> None:
        self.prepareGeometryChange()
        self.type_name = node.type
        self.bypassed = node.bypass
        self.collapsed = False
        self.title = node.title or "Reroute"
        self.input_types = {"value": ANY}
        self.output_types = {"value": ANY}
        self.linked = {input_name for input_name, value in node.inputs.items() if is_link(value)}
        middle = style.REROUTE_HEIGHT / 2
        self.input_points = {"value": QPointF(5, middle)}
        self.output_points = {"value": QPointF(style.REROUTE_WIDTH - 5, middle)}
        self._slot_rows, self._field_rows = [], []
        self.width = style.REROUTE_WIDTH
        self.height = self._body_height = style.REROUTE_HEIGHT
        self.rect = QRectF(0, 0, self.width, self.height)
        self._preview_rect = QRectF()
        self._bounds = self.rect.adjusted(-3, -3, 3, 3)
        self._shape = QPainterPath()
        self._shape.addRect(self.rect)
        self.canvas.overview_changed()

    def far_brush(self) -> Any:
        if self.isSelected():
            return style.ACCENT_BRUSH
        return style.socket_brush(self.canvas.links.colour_into(self.node_id, "value"))

    def _apply_height(self) -> None:
        """A reroute shows no preview; its size never changes."""

    def centre(self) -> QPointF:
        return QPointF(self.width / 2, self.height / 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        colour = style.socket_colour(self.canvas.links.colour_into(self.node_id, "value"))
        if self.canvas.far:
            painter.fillRect(self.rect, self.far_brush() if self.isSelected() else colour)
            return
        middle = self.height / 2
        painter.setPen(style.pen(style.name(style.translucent(colour, 150)), 2.0))
        painter.drawLine(QPointF(5, middle), QPointF(self.width - 5, middle))
        painter.setPen(style.NO_PEN)
        painter.setBrush(style.brush(colour.name()))
        painter.drawEllipse(self.input_points["value"], 3, 3)
        painter.drawEllipse(self.output_points["value"], 3, 3)
        painter.drawEllipse(self.centre(), 5.5, 5.5)
        if self.isSelected() or self.state == "error" or self.bypassed:
            ring = style.ERROR if self.state == "error" else style.BYPASS if self.bypassed else style.ACCENT
            painter.setPen(style.pen(ring.name(), 1.8))
            painter.setBrush(style.NO_BRUSH)
            painter.drawEllipse(self.centre(), 8.5, 8.5)
