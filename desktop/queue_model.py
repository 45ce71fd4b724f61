"""The render queue as a Qt list model: one row per job, in the order the queue lists
them (running, then waiting in the order they will run, then finished, newest first).

``refresh`` reads a page from the queue and changes only what changed: progress
moving on is a ``dataChanged``, jobs trading places a layout change (selections
follow their jobs), and only jobs coming or going reset the list. Waiting jobs can
be dragged to a new place; the drop becomes ``RenderQueue.move``, so the order lives
in the queue, where every worker sees it.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from PySide6.QtCore import (
    QAbstractListModel, QByteArray, QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal,
)

from desktop.queue_thumbnails import ThumbnailCache, thumbnail_source
from gpu.queue import RenderQueue
from gpu.queue_jobs import PAUSED, QUEUED, Job, QueueError

log = logging.getLogger("reelgraph.desktop")

JOB_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2
THUMBNAIL_ROLE = Qt.ItemDataRole.UserRole + 3
#: What a dragged row carries: the ids of the jobs, one per line.
MIME_TYPE = "application/x-reelgraph-queue-jobs"
#: Jobs listed at most; the overall line counts them all.
LIST_LIMIT = 200
WAITING = (QUEUED, PAUSED)

Index = QModelIndex | QPersistentModelIndex


def waiting(job: Job) -> bool:
    """A job that has not started (or was held back): the ones that can be reordered."""
    return job.status in WAITING


class QueueModel(QAbstractListModel):
    #: A reorder the queue refused, in words (a job started meanwhile...).
    refused = Signal(str)

    def __init__(self, queue: RenderQueue, thumbnails: ThumbnailCache | None = None,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.thumbnails = thumbnails if thumbnails is not None else ThumbnailCache(parent=self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.jobs: list[Job] = []

    # ----- reading the queue ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the queue's first page again and show what changed."""
        self.set_jobs(self.queue.list_jobs(page_size=LIST_LIMIT))

    def set_jobs(self, jobs: Sequence[Job]) -> None:
        jobs = list(jobs)
        old_ids = [job.id for job in self.jobs]
        new_ids = [job.id for job in jobs]
        if old_ids == new_ids:
            changed = [row for row, (old, new) in enumerate(zip(self.jobs, jobs)) if old != new]
            self.jobs = jobs
            if changed:
                self.dataChanged.emit(self.index(min(changed)), self.index(max(changed)))
            return
        if sorted(old_ids) == sorted(new_ids):
            self._rearrange(jobs)
            return
        self.beginResetModel()
        self.jobs = jobs
        self.endResetModel()

    def _rearrange(self, jobs: list[Job]) -> None:
        """The same jobs in a new order: persistent indexes (selection, current) follow them."""
        self.layoutAboutToBeChanged.emit()
        new_rows = {job.id: row for row, job in enumerate(jobs)}
        moved = self.persistentIndexList()
        targets = [self.index(new_rows[self.jobs[index.row()].id]) if 0 <= index.row() < len(self.jobs)
                   else QModelIndex() for index in moved]
        self.jobs = jobs
        self.changePersistentIndexList(moved, targets)
        self.layoutChanged.emit()

    def job(self, row: int) -> Job:
        return self.jobs[row]

    def row_of(self, job_id: int) -> int | None:
        for row, job in enumerate(self.jobs):
            if job.id == job_id:
                return row
        return None

    # ----- the Qt model ----------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.jobs)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.jobs):
            return None
        job = self.jobs[index.row()]
        if role == JOB_ROLE:
            return job
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return job.name
        if role == STATUS_ROLE:
            return job.status
        if role == THUMBNAIL_ROLE:
            source = thumbnail_source(job.output_paths)
            return self.thumbnails.thumbnail(source) if source is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return job_details(job)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled  # drops land between rows
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if waiting(self.jobs[index.row()]):
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    # ----- reordering ------------------------------------------------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({index.row() for index in indexes if index.isValid()})
        data = QMimeData()
        text = "\n".join(str(self.jobs[row].id) for row in rows if waiting(self.jobs[row]))
        data.setData(MIME_TYPE, QByteArray(text.encode("ascii")))
        return data

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: Index) -> bool:
        return data.hasFormat(MIME_TYPE) and action == Qt.DropAction.MoveAction

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index) -> bool:
        """Dragged jobs dropped before ``row`` (or onto ``parent``'s row, or at the end)."""
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        text = bytes(data.data(MIME_TYPE).data()).decode("ascii")
        ids = [int(part) for part in text.split() if part.isdigit()]
        if row < 0:
            row = parent.row() if parent.isValid() else len(self.jobs)
        return self.move_jobs(ids, row)

    def moveRows(self, source_parent: Index, source_row: int, count: int, destination_parent: Index,
                 destination_child: int) -> bool:
        """What a QListView asks for when a row is dragged within it."""
        if source_parent.isValid() or destination_parent.isValid() or count < 1:
            return False
        if source_row < 0 or source_row + count > len(self.jobs):
            return False
        return self.move_jobs([job.id for job in self.jobs[source_row:source_row + count]], destination_child)

    def removeRows(self, row: int, count: int, parent: Index = QModelIndex()) -> bool:
        return False  # a drop moved the jobs already; the view must not take rows out after a drag

    def move_jobs(self, ids: Sequence[int], row: int) -> bool:
        """Put waiting jobs, in the order given, just before the job now at ``row``."""
        moving = [job for job in self.jobs if job.id in set(ids) and waiting(job)]
        moving.sort(key=lambda job: list(ids).index(job.id))
        anchor = self._anchor(row, {job.id for job in moving})
        if not moving or anchor is None:
            return False
        anchor_id, before = anchor
        try:
            for job in moving:
                if before:
                    self.queue.move(job.id, before=anchor_id)
                else:
                    self.queue.move(job.id, after=anchor_id)
                    anchor_id = job.id  # the next one goes after this one
        except QueueError as error:
            self.refused.emit(str(error))
            self.refresh()
            return False
        self.refresh()
        return True

    def _anchor(self, row: int, moving: set[int]) -> tuple[int, bool] | None:
        """The waiting job to go next to for a drop before ``row``: (id, before?)."""
        row = max(0, min(row, len(self.jobs)))
        if row < len(self.jobs) and waiting(self.jobs[row]) and self.jobs[row].id not in moving:
            return self.jobs[row].id, True
        for job in reversed(self.jobs[:row]):  # after the nearest waiting job above
            if waiting(job) and job.id not in moving:
                return job.id, False
        for job in self.jobs[row:]:  # dropped above every waiting job: first in line
            if waiting(job) and job.id not in moving:
                return job.id, True
        return None

    def _thumbnail_ready(self, path: str) -> None:
        for row, job in enumerate(self.jobs):
            if thumbnail_source(job.output_paths) == path:
                index = self.index(row)
                self.dataChanged.emit(index, index, [THUMBNAIL_ROLE])


def job_details(job: Job) -> str:
    """What the tooltip of a job says: every attempt, the error, the files."""
    lines = [f"Job {job.id}: {job.name}", f"{job.status}, priority {job.priority}, runs on {job.runs_on}"]
    if job.overrides:
        lines.append("batch values: " + ", ".join(f"{key} = {value}" for key, value in job.overrides.items()))
    for attempt in job.attempts:
        took = f" after {attempt.ended - attempt.started:.1f} s" if attempt.ended is not None else ""
        lines.append(f"attempt {attempt.number}: {attempt.outcome}{took}" + (f": {attempt.error}" if attempt.error
                                                                            else ""))
    if job.last_error:
        lines.append(f"error: {job.last_error}")
    lines.extend(f"wrote {path}" for path in job.output_paths)
    return "\n".join(lines)
