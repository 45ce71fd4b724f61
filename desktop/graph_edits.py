"""What the canvas does to the selection: delete, bypass, collapse, align, group,
copy / paste / duplicate through the clipboard, rename a group, add a reroute.

A mixin of ``GraphView`` (these are its public methods, for keys and for the main
window's Edit menu alike); each is one document edit, so one undo step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QGuiApplication

from desktop import graph_style as style
from desktop.document import FRAGMENT_FORMAT
from desktop.graph_groups import GroupTitleEditor
from desktop.graph_scene import REROUTE_TYPE
from nodes.graph import json_text, parse_json
from nodes.problems import WorkflowError

if TYPE_CHECKING:
    from desktop.graph_view import GraphView

    _Base = GraphView
else:
    _Base = object


class CanvasEdits(_Base):
    """Edits of what is selected; ``GraphView`` provides the document, scene and signals."""

    def delete_selection(self) -> None:
        node_ids = self.selected_ids()
        group = self.graph_scene.selected_group
        if group is None:
            if node_ids:
                self.document.remove_nodes(node_ids)
            return
        stack = self.document.undo_stack
        stack.beginMacro("Delete")
        groups = [item for index, item in enumerate(self.document.graph.groups) if index != group]
        self.graph_scene.select_group(None)
        self.document.set_groups(groups, "Delete group")
        if node_ids:
            self.document.remove_nodes(node_ids)
        stack.endMacro()

    def toggle_bypass_selection(self) -> None:
        node_ids = self.selected_ids()
        if not node_ids:
            self.hint.emit("Select the nodes to bypass first")
            return
        self.document.toggle_bypass(node_ids)

    def toggle_collapse_selection(self) -> None:
        node_ids = self.selected_ids()
        if node_ids:
            nodes = self.document.graph.nodes
            self.document.set_collapsed(node_ids, not all(nodes[node_id].extra.get("collapsed")
                                                          for node_id in node_ids))

    def align_selection(self, edge: str) -> None:
        node_ids = self.selected_ids()
        if len(node_ids) < 2:
            self.hint.emit("Select two or more nodes to align them")
            return
        self.document.align(node_ids, edge)

    def group_selection(self, title: str = "Group") -> None:
        node_ids = self.selected_ids()
        if not node_ids:
            self.hint.emit("Select the nodes to put in a group first")
            return
        rect = QRectF()
        for node_id in node_ids:
            item = self.graph_scene.items_by_id[node_id]
            rect = rect.united(item.rect.translated(item.pos()))
        rect = rect.adjusted(-24, -style.GROUP_TITLE - 16, 24, 24)
        self.document.add_group(title, (round(rect.x()), round(rect.y()), round(rect.width()), round(rect.height())))

    def copy_selection(self) -> None:
        node_ids = self.selected_ids()
        if not node_ids:
            self.hint.emit("Select the nodes to copy first")
            return
        fragment = self.document.copy_fragment(node_ids)
        QGuiApplication.clipboard().setText(json_text(fragment))
        self.hint.emit(f"Copied {len(node_ids)} node(s)")

    def paste(self) -> list[str]:
        """Paste nodes copied here or in another window, their top-left at the cursor."""
        text = QGuiApplication.clipboard().text()
        try:
            fragment = parse_json(text)
            if not isinstance(fragment, dict) or fragment.get("format") != FRAGMENT_FORMAT \
                    or not isinstance(fragment.get("nodes"), dict) or not fragment["nodes"]:
                raise ValueError("not a fragment")
            positions = [node.get("pos", [0, 0]) for node in fragment.get("nodes", {}).values()
                         if isinstance(node, dict)]
            left = min((pos[0] for pos in positions if _is_point(pos)), default=0)
            top = min((pos[1] for pos in positions if _is_point(pos)), default=0)
            point = self.cursor_scene_pos()
            pasted = self.document.paste_fragment(fragment, (round(point.x() - left), round(point.y() - top)))
        except (ValueError, WorkflowError):
            self.hint.emit("The clipboard holds no Reelgraph nodes")
            return []
        self.select(pasted)
        return pasted

    def duplicate_selection(self) -> list[str]:
        node_ids = self.selected_ids()
        if not node_ids:
            return []
        pasted = self.document.paste_fragment(self.document.copy_fragment(node_ids), (40, 40))
        self.select(pasted)
        return pasted

    def rename_group(self, index: int) -> None:
        """Edit a group's title in place, over its title bar."""
        group = next((item for item in self.graph_scene.group_items if item.index == index), None)
        if group is None:
            return
        if self._title_editor is not None:
            self._title_editor.commit()
        self._title_editor = GroupTitleEditor(self, group, self._title_editor_closed)

    def _title_editor_closed(self) -> None:
        self._title_editor = None

    def add_reroute(self, link: tuple[str, str], scene_pos: QPointF) -> str:
        """Put a reroute point on a link where it was double-clicked."""
        stack = self.document.undo_stack
        stack.beginMacro("Add reroute")
        reroute = self.document.add_node(REROUTE_TYPE, (round(scene_pos.x() - style.REROUTE_WIDTH / 2),
                                                        round(scene_pos.y() - style.REROUTE_HEIGHT / 2)))
        self.document.insert_on_link(reroute, *link)
        stack.endMacro()
        return reroute


def _is_point(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
