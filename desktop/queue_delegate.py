"""How jobs look in the queue panel: a list of cards, where waiting ones can be
dragged to a new place. A card shows the output's thumbnail, the name
and a coloured status, a progress bar with its message while it runs (or the error
when it failed), and a quieter line with priority, attempts and times.

Painted by hand rather than built from widgets: a queue of hundreds of jobs is one
view with one delegate, and a progress change repaints one row.
"""

from __future__ import annotations

import time
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget,
)

from desktop.queue_eta import duration_text, working_seconds
from desktop.queue_model import JOB_ROLE, THUMBNAIL_ROLE, QueueModel
from desktop.queue_thumbnails import THUMBNAIL_SIZE, thumbnail_source
from desktop.theme import ACCENT, ACCENT_DIM, BORDER, DARKEST, ERROR, SUCCESS, TEXT, TEXT_DIM, WARNING
from gpu.queue_jobs import CANCELLED, COMPLETED, FAILED, PAUSED, QUEUED, RUNNING, Job

STATUS_COLOURS = {
    QUEUED: TEXT_DIM, RUNNING: ACCENT, PAUSED: WARNING, COMPLETED: SUCCESS, FAILED: ERROR, CANCELLED: "#6b7480",
}
STATUS_WORDS = {
    QUEUED: "queued", RUNNING: "running", PAUSED: "on hold", COMPLETED: "done", FAILED: "failed",
    CANCELLED: "cancelled",
}
#: What a card without a thumbnail shows in its place.
STATUS_GLYPHS = {COMPLETED: "✓", FAILED: "!", RUNNING: "▶", PAUSED: "❚❚", CANCELLED: "✕"}
ROW_HEIGHT = THUMBNAIL_SIZE.height() + 18
MARGIN = 8
BAR_HEIGHT = 14
#: Room left of the thumbnail for the status-coloured stripe.
STRIPE = 7


def status_word(job: Job) -> str:
    """The status as the card says it, with what a running job was asked to do."""
    if job.status == RUNNING and job.stop_request == "cancel":
        return "cancelling…"
    if job.status == RUNNING and job.stop_request == "pause":
        return "pausing…"
    if job.status == QUEUED and job.not_before > time.time():
        return "retry soon"
    return STATUS_WORDS.get(job.status, job.status)


def clock(moment: float | None, now: float | None = None) -> str:
    """14:02 today, 3 Mar 14:02 on another day."""
    if not moment:
        return "—"
    now = time.time() if now is None else now
    same_day = time.localtime(moment)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M" if same_day else "%d %b %H:%M", time.localtime(moment))


def detail_line(job: Job) -> str:
    """The second line of a card when it shows no progress bar."""
    if job.status == FAILED:
        return job.last_error or "failed"
    if job.status == QUEUED and job.not_before > time.time():
        return f"failed for a passing reason ({job.last_error}); trying again in " \
               f"{duration_text(job.not_before - time.time())}"
    if job.status == COMPLETED:
        source = thumbnail_source(job.output_paths) or (job.output_paths[-1] if job.output_paths else "")
        return source.rsplit("/", 1)[-1] if source else "done (no files written)"
    if job.status == CANCELLED:
        return job.progress_message or "cancelled"
    if job.status == PAUSED:
        return "held back: Resume lets it run" + (f" (resumes at {job.progress:.0%})" if job.progress else "")
    if job.status == QUEUED and job.attempts:
        return f"waiting to resume at {job.progress:.0%}"
    return "waiting for a worker"


def meta_line(job: Job) -> str:
    """Priority, attempts and times: the quiet third line."""
    parts = [f"#{job.id}"]
    if job.priority:
        parts.append(f"priority {job.priority}")
    if len(job.attempts) > 1:
        parts.append(f"attempt {len(job.attempts)}")
    parts.append(f"added {clock(job.created)}")
    if job.finished is not None:
        worked = working_seconds(job)
        parts.append(f"ended {clock(job.finished)}" + (f" after {duration_text(worked)}" if worked else ""))
    elif job.status == RUNNING and job.attempts:
        parts.append(f"started {clock(job.attempts[-1].started)}")
    return " · ".join(parts)


class JobDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(max(option.rect.width(), 280), ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        job: Job | None = index.data(JOB_ROLE)
        if job is None:
            return
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget is not None else QApplication.style()
        option.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(MARGIN, 6, -MARGIN, -6)
        picture_box = QRect(rect.left() + STRIPE, rect.top() + (rect.height() - THUMBNAIL_SIZE.height()) // 2,
                            THUMBNAIL_SIZE.width(), THUMBNAIL_SIZE.height())
        self._paint_thumbnail(painter, picture_box, job, index.data(THUMBNAIL_ROLE))
        text_box = QRect(picture_box.right() + 10, rect.top(), rect.right() - picture_box.right() - 10, rect.height())
        self._paint_text(painter, text_box, job, option.font)
        painter.setPen(QPen(QColor(BORDER)))
        painter.drawLine(option.rect.bottomLeft(), option.rect.bottomRight())
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, box: QRect, job: Job, picture: QImage | None) -> None:
        colour = QColor(STATUS_COLOURS.get(job.status, TEXT_DIM))
        painter.setPen(QPen(QColor(BORDER)))
        painter.setBrush(QColor(DARKEST))
        painter.drawRoundedRect(QRectF(box).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        if picture is not None and not picture.isNull():
            shown = QRect(0, 0, picture.width(), picture.height())
            shown.moveCenter(box.center())
            painter.drawImage(shown, picture)
        else:
            painter.setPen(colour)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, STATUS_GLYPHS.get(job.status, "…"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(box.left() - STRIPE, box.top() + 2, 3, box.height() - 4), 1.5, 1.5)

    def _paint_text(self, painter: QPainter, box: QRect, job: Job, font: QFont) -> None:
        bold = QFont(font)
        bold.setBold(True)
        small = QFont(font)
        small.setPointSizeF(max(6.0, font.pointSizeF() - 1.0))
        line_height = box.height() // 3
        first = QRect(box.left(), box.top(), box.width(), line_height)
        second = QRect(box.left(), box.top() + line_height, box.width(), line_height)
        third = QRect(box.left(), box.top() + 2 * line_height, box.width(), box.height() - 2 * line_height)

        word = status_word(job)
        painter.setFont(bold)
        status_width = QFontMetrics(bold).horizontalAdvance(word) + 4
        painter.setPen(QColor(STATUS_COLOURS.get(job.status, TEXT)))
        painter.drawText(first, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, word)
        name_box = first.adjusted(0, 0, -status_width - 8, 0)
        painter.setPen(QColor(TEXT))
        painter.drawText(name_box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(bold).elidedText(job.name, Qt.TextElideMode.ElideRight, name_box.width()))

        painter.setFont(font)
        shows_bar = job.status == RUNNING or (job.status in (QUEUED, PAUSED) and 0 < job.progress < 1)
        if shows_bar:
            bar = QRect(second.left(), second.center().y() - BAR_HEIGHT // 2 + 1, min(180, second.width() // 2),
                        BAR_HEIGHT)
            self._paint_bar(painter, bar, job.progress, job.status == RUNNING)
            message = job.progress_message if job.status == RUNNING else detail_line(job)
            rest = second.adjusted(bar.width() + 8, 0, 0, 0)
        else:
            message, rest = detail_line(job), second
        painter.setPen(QColor(ERROR if job.status == FAILED else TEXT_DIM))
        painter.drawText(rest, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(font).elidedText(" ".join(message.split()), Qt.TextElideMode.ElideRight,
                                                       rest.width()))

        painter.setFont(small)
        painter.setPen(QColor("#6b7480"))
        painter.drawText(third, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(small).elidedText(meta_line(job), Qt.TextElideMode.ElideRight, third.width()))

    def _paint_bar(self, painter: QPainter, bar: QRect, fraction: float, active: bool) -> None:
        painter.save()
        frame = QRectF(bar).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(QColor(BORDER)))
        painter.setBrush(QColor(DARKEST))
        painter.drawRoundedRect(frame, 4, 4)
        fraction = max(0.0, min(1.0, fraction))
        if fraction > 0:
            filled = frame.adjusted(1, 1, -1, -1)
            filled.setWidth(filled.width() * fraction)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(ACCENT_DIM if active else "#4a5360"))
            painter.drawRoundedRect(filled, 3, 3)
        painter.setPen(QColor(TEXT))
        small = QFont(painter.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() - 1.5))
        painter.setFont(small)
        painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, f"{fraction * 100:.0f}%")
        painter.restore()


class JobList(QListView):
    """The queue's jobs as cards; a waiting job dragged within the list changes the
    running order (the model turns the drop into ``RenderQueue.move``)."""

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueList")
        self.setModel(model)
        self.setItemDelegate(JobDelegate(self))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDragDropOverwriteMode(False)
        self.setDropIndicatorShown(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
