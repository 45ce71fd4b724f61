"""The links of a graph, drawn by one item for all of them.

A thousand links as a thousand items would mean a thousand Python paint calls per
frame. Here each link keeps its bezier path and bounds, recomputed only when one
of its two nodes moves or changes; a paint draws the links whose bounds meet the
exposed area, and far out draws every link as a straight line in one
``drawLines`` call per colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from desktop import graph_style as style
from nodes.types import ANY

if TYPE_CHECKING:
    from desktop.graph_scene import GraphScene

LinkKey = tuple[str, str]
EXTENT = 1.0e7
#: Below this scale, or with more than BUSY links in view, links are drawn one pixel
#: wide: Qt strokes those on a fast path, and hundreds of wide antialiased curves
#: crossing the view (one node feeding many) would take a frame each.
THIN_SCALE = 0.6
BUSY = 150
SAMPLES = 32


@dataclass(eq=False)
class Link:
    """``reader.name`` reads ``source.output``; geometry is None while an end is missing."""

    source: str
    output: str
    reader: str
    name: str
    colour_type: str = ANY
    path: QPainterPath | None = None
    bounds: QRectF | None = None
    line: QLineF | None = None
    curve: tuple[float, ...] = field(default=())

    @property
    def key(self) -> LinkKey:
        return self.reader, self.name


def curve_between(start: QPointF, end: QPointF) -> tuple[float, ...]:
    """Control points of the S-shaped bezier from an output to an input."""
    distance = abs(end.x() - start.x())
    handle = max(distance * 0.5, 40.0)
    if end.x() < start.x():
        handle = min(max(handle, 80.0), 400.0)
    return (start.x(), start.y(), start.x() + handle, start.y(), end.x() - handle, end.y(), end.x(), end.y())


def curve_path(curve: tuple[float, ...]) -> QPainterPath:
    path = QPainterPath(QPointF(curve[0], curve[1]))
    path.cubicTo(curve[2], curve[3], curve[4], curve[5], curve[6], curve[7])
    return path


def curve_points(curve: tuple[float, ...], samples: int = SAMPLES) -> list[tuple[float, float]]:
    x0, y0, x1, y1, x2, y2, x3, y3 = curve
    points = []
    for step in range(samples + 1):
        t = step / samples
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        points.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return points


class LinkLayer(QGraphicsItem):
    """Every link of the scene; it never takes a mouse press (its shape is empty)."""

    def __init__(self, canvas: "GraphScene") -> None:
        super().__init__()
        self.canvas = canvas
        self._links: dict[LinkKey, Link] = {}
        #: Links whose node moved since they were last placed (placed together, once, soon).
        self._stale: set[LinkKey] = set()
        self._touching: dict[str, set[LinkKey]] = {}
        self._far_lines: dict[str, list[QLineF]] | None = None
        self.lifted: LinkKey | None = None
        self.highlighted: LinkKey | None = None
        self._bulk = False
        self._pending: QRectF | None = None
        self._empty = QPainterPath()
        self.setZValue(-10)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    @property
    def links(self) -> dict[LinkKey, Link]:
        """Every link by (reader, input), with up-to-date geometry."""
        self.flush()
        return self._links

    def boundingRect(self) -> QRectF:
        return QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)

    def shape(self) -> QPainterPath:
        return self._empty

    # ----- keeping up with the document -----------------------------------------------------
    def set_link(self, reader: str, name: str, source: str, output: str) -> None:
        key = (reader, name)
        self.remove_link(reader, name)
        link = Link(source, output, reader, name)
        self._links[key] = link
        self._touching.setdefault(source, set()).add(key)
        self._touching.setdefault(reader, set()).add(key)
        self._place(link)

    def remove_link(self, reader: str, name: str) -> None:
        link = self._links.pop((reader, name), None)
        if link is None:
            return
        self._stale.discard(link.key)
        for node_id in (link.source, link.reader):
            keys = self._touching.get(node_id)
            if keys is not None:
                keys.discard(link.key)
                if not keys:
                    del self._touching[node_id]
        if link.bounds is not None:
            self._dirty(link.bounds)
        if self.lifted == link.key:
            self.lifted = None
        if self.highlighted == link.key:
            self.highlighted = None

    def clear(self) -> None:
        self._links.clear()
        self._stale.clear()
        self._touching.clear()
        self.lifted = self.highlighted = None
        self._far_lines = None
        self.update()

    def begin_bulk(self) -> None:
        """Many links change at once (open, paste): one repaint at the end, not one each."""
        self._bulk = True

    def end_bulk(self) -> None:
        self._bulk = False
        self._far_lines = None
        self.update()

    def node_changed(self, node_id: str) -> None:
        """A node moved, appeared, or changed shape: its links follow.

        They are placed a moment later, all together: when a command moves many
        nodes, a link between two of them is placed once, not once per end. The
        placement runs before the repaint (Qt handles its update requests last) and
        before anything that reads link geometry (``links``, hit tests, paint).
        """
        keys = self._touching.get(node_id)
        if not keys:
            return
        if not self._stale:
            QTimer.singleShot(0, self.canvas, self.flush)
        self._stale.update(keys)
        self._far_lines = None

    def flush(self) -> None:
        """Place every link left stale by ``node_changed``, with one repaint request."""
        if not self._stale:
            return
        stale, self._stale = self._stale, set()
        self._pending = QRectF()
        for key in stale:
            link = self._links.get(key)
            if link is not None:
                self._place(link)
        dirty, self._pending = self._pending, None
        if not self._bulk and not dirty.isEmpty():
            self.update(dirty)

    def touching(self, node_id: str) -> list[Link]:
        return [self._links[key] for key in self._touching.get(node_id, ())]

    def colour_into(self, reader: str, name: str) -> str:
        link = self._links.get((reader, name))
        return link.colour_type if link is not None else ANY

    def set_lifted(self, key: LinkKey | None) -> None:
        for old in (self.lifted, key):
            if old is not None and old in self._links and self._links[old].bounds is not None:
                self._dirty(self._links[old].bounds)
        self.lifted = key

    def set_highlighted(self, key: LinkKey | None) -> None:
        if key == self.highlighted:
            return
        for old in (self.highlighted, key):
            if old is not None and old in self._links and self._links[old].bounds is not None:
                self._dirty(self._links[old].bounds)
        self.highlighted = key

    def refresh_for(self, node_ids: set[str]) -> None:
        """Repaint the links of these nodes (their selection changed)."""
        for node_id in node_ids:
            for key in self._touching.get(node_id, ()):
                bounds = self._links[key].bounds
                if bounds is not None:
                    self._dirty(bounds)

    def _dirty(self, rect: QRectF) -> None:
        self._far_lines = None
        if self._pending is not None:
            self._pending = self._pending.united(rect)
        elif not self._bulk:
            self.update(rect)

    def _place(self, link: Link) -> None:
        items = self.canvas.items_by_id
        source, reader = items.get(link.source), items.get(link.reader)
        old = link.bounds
        start = source.output_points.get(link.output) if source is not None else None
        end = reader.input_points.get(link.name) if reader is not None else None
        if start is None or end is None:
            link.path = link.bounds = link.line = None
            link.curve = ()
        else:
            start = start + source.pos()
            end = end + reader.pos()
            link.colour_type = style.link_colour_type(source.output_types.get(link.output, ANY),
                                                      reader.input_types.get(link.name, ANY))
            link.curve = curve_between(start, end)
            link.path = curve_path(link.curve)
            link.bounds = link.path.controlPointRect().adjusted(-4, -4, 4, 4)
            link.line = QLineF(start, end)
        if old is not None:
            self._dirty(old)
        if link.bounds is not None:
            self._dirty(link.bounds)

    # ----- finding links ----------------------------------------------------------------------
    def link_at(self, point: QPointF, tolerance: float) -> LinkKey | None:
        """The link passing within ``tolerance`` of ``point``, nearest first."""
        self.flush()
        best, best_distance = None, tolerance
        x, y = point.x(), point.y()
        for key, link in self._links.items():
            if link.bounds is None or not link.bounds.adjusted(-tolerance, -tolerance, tolerance,
                                                               tolerance).contains(point):
                continue
            for px, py in curve_points(link.curve):
                distance = math.hypot(px - x, py - y)
                if distance < best_distance:
                    best, best_distance = key, distance
        return best

    def links_across(self, rect: QRectF, exclude: str) -> list[LinkKey]:
        """Links (not touching ``exclude``) that pass through ``rect``, closest to its centre first."""
        self.flush()
        found = []
        centre = rect.center()
        for key, link in self._links.items():
            if link.bounds is None or exclude in (link.source, link.reader) or not link.bounds.intersects(rect):
                continue
            inside = [math.hypot(px - centre.x(), py - centre.y()) for px, py in curve_points(link.curve)
                      if rect.contains(QPointF(px, py))]
            if inside:
                found.append((min(inside), key))
        return [key for _, key in sorted(found)]

    # ----- painting ----------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self.flush()
        if self.canvas.far:
            self._paint_far(painter)
            return
        exposed = visible_area(painter, option)
        selected = self.canvas.selected_set
        lifted = self.lifted
        shown = [link for key, link in self._links.items()
                 if link.bounds is not None and key != lifted and link.bounds.intersects(exposed)]
        thin = painter.worldTransform().m11() < THIN_SCALE or len(shown) > BUSY
        if thin and len(shown) > BUSY:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(style.NO_BRUSH)
        current = None
        for link in shown:
            link_pen = _link_pen(link.colour_type, link.source in selected or link.reader in selected, thin)
            if link_pen is not current:
                painter.setPen(link_pen)
                current = link_pen
            painter.drawPath(link.path)
        highlighted = self._links.get(self.highlighted) if self.highlighted else None
        if highlighted is not None and highlighted.path is not None:
            painter.setPen(style.pen(style.ACCENT.name(), 5.0))
            painter.drawPath(highlighted.path)

    def _paint_far(self, painter: QPainter) -> None:
        if self._far_lines is None:
            lines: dict[str, list[QLineF]] = {}
            for key, link in self._links.items():
                if link.line is not None and key != self.lifted:
                    lines.setdefault(link.colour_type, []).append(link.line)
            self._far_lines = lines
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for colour_type, lines in self._far_lines.items():
            painter.setPen(_far_pen(colour_type))
            painter.drawLines(lines)


def visible_area(painter: QPainter, option: QStyleOptionGraphicsItem) -> QRectF:
    """What part of the item this paint can show: the exposed area within the device
    (``QGraphicsView.render`` exposes the whole item, however big)."""
    device = painter.device()
    inverse, invertible = painter.worldTransform().inverted()
    area = option.exposedRect
    if invertible and device is not None:
        area = area.intersected(inverse.mapRect(QRectF(0, 0, device.width(), device.height())))
    if painter.hasClipping():
        area = area.intersected(painter.clipBoundingRect())
    return area


_pens: dict[tuple[str, bool, bool], QPen] = {}
_far_pens: dict[str, QPen] = {}


def _link_pen(colour_type: str, emphasised: bool, thin: bool) -> QPen:
    """Opaque pens (see ``style.over_background``): 2.4 units wide, or one pixel when thin."""
    key = (colour_type, emphasised, thin)
    link_pen = _pens.get(key)
    if link_pen is None:
        colour = style.socket_colour(colour_type)
        if not emphasised:
            colour = style.over_background(colour, 0.75)
        if thin:
            link_pen = style.pen(style.name(colour), 1.0 if not emphasised else 1.6, cosmetic=True)
        else:
            link_pen = style.pen(style.name(colour), 3.4 if emphasised else 2.4)
        _pens[key] = link_pen
    return link_pen


def _far_pen(colour_type: str) -> QPen:
    far_pen = _far_pens.get(colour_type)
    if far_pen is None:
        colour = style.over_background(style.socket_colour(colour_type), 0.6)
        far_pen = _far_pens[colour_type] = style.pen(style.name(colour), 1.0, cosmetic=True)
    return far_pen


class PendingLink(QGraphicsPathItem):
    """The wire that follows the mouse while a link is being dragged."""

    def __init__(self, colour_type: str) -> None:
        super().__init__()
        self.setZValue(1000)
        self.setPen(style.pen(style.socket_colour(colour_type).name(), 2.4, Qt.PenStyle.DashLine))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_ends(self, output_end: QPointF, input_end: QPointF) -> None:
        self.setPath(curve_path(curve_between(output_end, input_end)))
