"""The graph editor, driven the way a creator drives it: mouse drags between sockets,
keys, the palette, the clipboard. Every edit lands in the document (so it can be
undone) and the canvas follows the document, undo and redo included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem

from desktop.document import WorkflowDocument
from desktop.graph_items import RerouteItem
from desktop.graph_view import GraphView
from desktop.palette import search
from nodes.graph import Graph

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
LEFT = Qt.MouseButton.LeftButton
NO_KEYS = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def document(qapp, registry):
    return WorkflowDocument(registry)


def make_view(qtbot, document: WorkflowDocument) -> GraphView:
    view = GraphView(document)
    view.resize(1200, 800)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(1.0)
    view.centerOn(QPointF(450, 250))
    view.activateWindow()
    view.setFocus()
    return view


@pytest.fixture
def view(qtbot, document):
    return make_view(qtbot, document)


# ----- pointing at things -----------------------------------------------------------------------
def at(view: GraphView, point: QPointF) -> QPoint:
    return view.mapFromScene(point)


def socket(view: GraphView, node_id: str, name: str, output: bool = False) -> QPoint:
    item = view.graph_scene.node_item(node_id)
    points = item.output_points if output else item.input_points
    return at(view, points[name] + item.pos())


def body(view: GraphView, node_id: str, dy: float = 0.0) -> QPoint:
    item = view.graph_scene.node_item(node_id)
    return at(view, item.pos() + QPointF(item.width / 2, min(item.height - 4, 44 + dy)))


def title(view: GraphView, node_id: str) -> QPoint:
    item = view.graph_scene.node_item(node_id)
    return at(view, item.pos() + QPointF(item.width / 2, 12))


def drag(qtbot, view: GraphView, start: QPoint, end: QPoint, modifiers=NO_KEYS,
         button=LEFT, steps: int = 6) -> None:
    viewport = view.viewport()
    qtbot.mousePress(viewport, button, modifiers, start)
    for step in range(1, steps + 1):
        qtbot.mouseMove(viewport, start + (end - start) * (step / steps))
    qtbot.mouseRelease(viewport, button, modifiers, end)


def hover(view: GraphView, point: QPoint) -> None:
    """Move the mouse over the canvas with no button held (sent straight to this window)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(point), QPointF(view.viewport().mapToGlobal(point)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, NO_KEYS)
    QApplication.sendEvent(view.viewport(), event)


def key(qtbot, view: GraphView, which, modifiers=NO_KEYS) -> None:
    qtbot.keyClick(view, which, modifiers)


def links_of(document: WorkflowDocument) -> set[tuple[str, str, str, str]]:
    return set(document.links())


# ----- adding nodes -----------------------------------------------------------------------------
def test_tab_opens_the_palette_and_enter_adds_the_best_match_at_the_cursor(qtbot, view, document):
    hover(view, QPoint(300, 200))
    key(qtbot, view, Qt.Key.Key_Tab)
    palette = view.node_palette
    assert palette.isVisible()
    qtbot.keyClicks(palette.search, "blr")
    assert palette.results.currentItem().data(Qt.ItemDataRole.UserRole) == "image.Blur"
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert not palette.isVisible()
    (node_id,) = document.graph.nodes
    assert document.graph.nodes[node_id].type == "image.Blur"
    item = view.graph_scene.node_item(node_id)
    assert item.rect.translated(item.pos()).contains(view.mapToScene(QPoint(300, 200))), "placed at the cursor"
    assert view.selected_ids() == [node_id]


def test_double_click_on_empty_canvas_opens_the_palette_and_escape_closes_it(qtbot, view, document):
    qtbot.mouseDClick(view.viewport(), LEFT, NO_KEYS, QPoint(500, 300))
    assert view.node_palette.isVisible()
    qtbot.keyClick(view.node_palette.search, Qt.Key.Key_Escape)
    assert not view.node_palette.isVisible() and not document.graph.nodes


def test_palette_search_is_fuzzy_over_names_categories_and_descriptions(registry):
    assert search(registry, "blr")[0].type_name == "image.Blur"
    assert search(registry, "ttv")[0].type_name == "video.TextToVideo"
    assert "image.Blur" in [spec.type_name for spec in search(registry, "softens")], "found by its description"
    assert {spec.category for spec in search(registry, "math")} >= {"math"}
    assert search(registry, "zzzqqq") == []


def test_add_node_at_cursor_selects_the_new_node(view, document):
    node_id = view.add_node_at_cursor("core.Float")
    assert document.graph.nodes[node_id].type == "core.Float" and view.selected_ids() == [node_id]


# ----- links ------------------------------------------------------------------------------------
def test_dragging_from_an_output_to_an_input_connects_them(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (400, 40))
    drag(qtbot, view, socket(view, solid, "image", output=True), socket(view, blur, "image"))
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]
    assert (blur, "image") in view.graph_scene.links.links
    assert view.graph_scene.node_item(blur).linked == {"image"}


def test_dragging_from_a_free_input_back_to_an_output_connects_too(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (400, 40))
    drag(qtbot, view, socket(view, blur, "image"), socket(view, solid, "image", output=True))
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]


def test_an_incompatible_drop_is_refused_with_a_hint(qtbot, view, document):
    number = document.add_node("core.Float", (0, 0))
    blur = document.add_node("image.Blur", (400, 40))
    with qtbot.waitSignal(view.hint, timeout=1000) as hint:
        drag(qtbot, view, socket(view, number, "value", output=True), socket(view, blur, "image"))
    assert "image takes IMAGE, not FLOAT" in hint.args[0]
    assert "image" not in document.graph.nodes[blur].inputs and not view.graph_scene.links.links


def test_dropping_a_link_on_a_node_body_uses_its_first_fitting_input(qtbot, view, document):
    number = document.add_node("core.Float", (0, 0))
    blur = document.add_node("image.Blur", (400, 40))
    drag(qtbot, view, socket(view, number, "value", output=True), body(view, blur, dy=-10))
    assert document.graph.nodes[blur].inputs["radius"] == [number, "value"]


def test_dragging_a_connected_input_away_detaches_the_link_and_undo_restores_it(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (400, 40))
    document.connect(solid, "image", blur, "image")
    with qtbot.waitSignal(view.hint, timeout=1000):
        drag(qtbot, view, socket(view, blur, "image"), socket(view, blur, "image") + QPoint(60, 260))
    assert "image" not in document.graph.nodes[blur].inputs
    assert (blur, "image") not in view.graph_scene.links.links
    document.undo_stack.undo()
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]
    assert (blur, "image") in view.graph_scene.links.links, "undo brings the drawn link back"


def test_dragging_a_connected_input_to_another_input_reroutes_it_in_one_undo_step(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    first = document.add_node("image.Blur", (400, -60))
    second = document.add_node("image.Blur", (400, 160))
    document.connect(solid, "image", first, "image")
    steps = document.undo_stack.count()
    drag(qtbot, view, socket(view, first, "image"), socket(view, second, "image"))
    assert "image" not in document.graph.nodes[first].inputs
    assert document.graph.nodes[second].inputs["image"] == [solid, "image"]
    assert document.undo_stack.count() == steps + 1
    document.undo_stack.undo()
    assert document.graph.nodes[first].inputs["image"] == [solid, "image"]


def test_a_link_dropped_on_empty_canvas_opens_a_filtered_palette_and_connects_the_new_node(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    drop = socket(view, solid, "image", output=True) + QPoint(320, 40)
    drag(qtbot, view, socket(view, solid, "image", output=True), drop)
    palette = view.node_palette
    assert palette.isVisible() and "IMAGE" in palette.caption.text()
    offered = {palette.results.item(row).data(Qt.ItemDataRole.UserRole) for row in range(palette.results.count())}
    assert "image.Blur" in offered and "math.Add" not in offered and "core.Float" not in offered
    qtbot.keyClicks(palette.search, "blur")
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    blur = next(node_id for node_id, node in document.graph.nodes.items() if node.type == "image.Blur")
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]
    document.undo_stack.undo()
    assert list(document.graph.nodes) == [solid], "adding and connecting is one undo step"


def test_a_link_pulled_out_of_a_free_input_offers_nodes_that_give_its_type(qtbot, view, document):
    blur = document.add_node("image.Blur", (400, 40))
    drag(qtbot, view, socket(view, blur, "image"), socket(view, blur, "image") - QPoint(300, 0))
    palette = view.node_palette
    assert palette.isVisible() and "give IMAGE" in palette.caption.text()
    qtbot.keyClicks(palette.search, "solid")
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    solid = next(node_id for node_id, node in document.graph.nodes.items() if node.type == "image.Solid")
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]


def test_dropping_a_link_end_on_the_wrong_side_explains_itself(qtbot, view, document):
    first = document.add_node("image.Solid", (0, 0))
    second = document.add_node("image.Solid", (400, 0))
    with qtbot.waitSignal(view.hint, timeout=1000) as hint:
        drag(qtbot, view, socket(view, first, "image", output=True), socket(view, second, "image", output=True))
    assert "input (left side)" in hint.args[0] and not view.graph_scene.links.links


def test_dropping_a_node_onto_a_link_inserts_it(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    save = document.add_node("image.Save", (700, 0))
    document.connect(solid, "image", save, "image")
    blur = document.add_node("image.Blur", (300, 320))
    link = view.graph_scene.links.links[(save, "image")]
    middle = QPointF(link.curve[0] + link.curve[6], link.curve[1] + link.curve[7]) / 2
    item = view.graph_scene.node_item(blur)
    grab = QPointF(item.width / 2, 44)
    drag(qtbot, view, at(view, item.pos() + grab), at(view, middle + QPointF(0, 10)))
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]
    assert document.graph.nodes[save].inputs["image"] == [blur, "image"]
    assert view.graph_scene.links.highlighted is None


def test_double_click_on_a_link_adds_a_reroute_dot(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    save = document.add_node("image.Save", (700, 0))
    document.connect(solid, "image", save, "image")
    link = view.graph_scene.links.links[(save, "image")]
    middle = QPointF(link.curve[0] + link.curve[6], link.curve[1] + link.curve[7]) / 2
    qtbot.mouseDClick(view.viewport(), LEFT, NO_KEYS, at(view, middle))
    reroute = next(node_id for node_id, node in document.graph.nodes.items() if node.type == "core.Reroute")
    assert isinstance(view.graph_scene.node_item(reroute), RerouteItem)
    assert document.graph.nodes[reroute].inputs["value"] == [solid, "image"]
    assert document.graph.nodes[save].inputs["image"] == [reroute, "value"]
    assert view.graph_scene.links.colour_into(reroute, "value") == "IMAGE", "the dot takes its wire's colour"
    document.undo_stack.undo()
    assert set(document.graph.nodes) == {solid, save}


# ----- selecting, moving, deleting --------------------------------------------------------------
def test_box_select_and_ctrl_shift_clicks_choose_nodes(qtbot, view, document):
    first = document.add_node("core.Float", (0, 0))
    second = document.add_node("core.Float", (0, 200))
    far = document.add_node("core.Float", (700, 0))
    with qtbot.waitSignal(view.selectionChangedIds, timeout=1000):
        drag(qtbot, view, at(view, QPointF(-40, -40)), at(view, QPointF(260, 300)))
    assert view.selected_ids() == [first, second]
    qtbot.mouseClick(view.viewport(), LEFT, SHIFT, body(view, far))
    assert view.selected_ids() == [first, second, far]
    qtbot.mouseClick(view.viewport(), LEFT, CTRL, body(view, first))
    assert view.selected_ids() == [second, far]
    qtbot.mouseClick(view.viewport(), LEFT, NO_KEYS, at(view, QPointF(400, 500)))
    assert view.selected_ids() == []
    view.select([far])
    assert view.selected_ids() == [far] and view.graph_scene.node_item(far).isSelected()


def test_dragging_nodes_moves_them_all_in_one_undo_step(qtbot, view, document):
    first = document.add_node("core.Float", (0, 0))
    second = document.add_node("core.Float", (0, 200))
    view.select([first, second])
    steps = document.undo_stack.count()
    drag(qtbot, view, body(view, first), body(view, first) + QPoint(100, 50), steps=10)
    assert document.graph.nodes[first].pos == pytest.approx([100, 50], abs=1.5)
    assert document.graph.nodes[second].pos == pytest.approx([100, 250], abs=1.5)
    assert document.undo_stack.count() == steps + 1
    document.undo_stack.undo()
    assert document.graph.nodes[first].pos == [0, 0]
    assert view.graph_scene.node_item(first).pos() == QPointF(0, 0), "the item follows undo"


def test_delete_removes_nodes_and_their_links_and_undo_puts_them_back(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (300, 0))
    document.connect(solid, "image", blur, "image")
    qtbot.mouseClick(view.viewport(), LEFT, NO_KEYS, body(view, solid))
    key(qtbot, view, Qt.Key.Key_Delete)
    assert solid not in document.graph.nodes and view.graph_scene.node_item(solid) is None
    assert not view.graph_scene.links.links
    document.undo_stack.undo()
    assert view.graph_scene.node_item(solid) is not None
    assert view.graph_scene.links.links[(blur, "image")].bounds is not None, "the link is drawn again"
    document.undo_stack.redo()
    assert view.graph_scene.node_item(solid) is None


def test_ctrl_b_bypasses_and_alt_c_or_a_title_double_click_collapses(qtbot, view, document):
    blur = document.add_node("image.Blur", (0, 0))
    view.select([blur])
    key(qtbot, view, Qt.Key.Key_B, CTRL)
    item = view.graph_scene.node_item(blur)
    assert document.graph.nodes[blur].bypass and item.bypassed
    key(qtbot, view, Qt.Key.Key_B, CTRL)
    assert not document.graph.nodes[blur].bypass and not item.bypassed
    tall = item.height
    key(qtbot, view, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)
    assert document.graph.nodes[blur].extra["collapsed"] is True and item.collapsed and item.height < tall
    qtbot.mouseDClick(view.viewport(), LEFT, NO_KEYS, title(view, blur))
    assert "collapsed" not in document.graph.nodes[blur].extra and item.height == tall
    qtbot.mouseClick(view.viewport(), LEFT, NO_KEYS, at(view, item.pos() + QPointF(12, 14)))
    assert item.collapsed, "the chevron in the header folds the node too"


def test_double_click_on_a_node_body_activates_it_for_the_inspector(qtbot, view, document):
    blur = document.add_node("image.Blur", (0, 0))
    with qtbot.waitSignal(view.nodeActivated, timeout=1000) as activated:
        qtbot.mouseDClick(view.viewport(), LEFT, NO_KEYS, body(view, blur, dy=20))
    assert activated.args == [blur]


def test_align_left_and_top(qtbot, view, document):
    first = document.add_node("core.Float", (0, 0))
    second = document.add_node("core.Float", (90, 230))
    view.select([first, second])
    key(qtbot, view, Qt.Key.Key_Left, CTRL | SHIFT)
    assert document.graph.nodes[second].pos == [0, 230]
    view.align_selection("top")
    assert document.graph.nodes[second].pos == [0, 0]
    assert view.graph_scene.node_item(second).pos() == QPointF(0, 0)


def test_a_group_drags_the_nodes_inside_it_in_one_undo_step_and_renames_in_place(qtbot, view, document):
    inside = document.add_node("core.Float", (0, 0))
    outside = document.add_node("core.Float", (600, 0))
    view.select([inside])
    key(qtbot, view, Qt.Key.Key_G, CTRL)
    (group,) = document.graph.groups
    x, y = group["rect"][:2]
    steps = document.undo_stack.count()
    drag(qtbot, view, at(view, QPointF(x + 60, y + 12)), at(view, QPointF(x + 160, y + 72)), steps=8)
    assert document.graph.groups[0]["rect"][:2] == pytest.approx([x + 100, y + 60], abs=1.5)
    assert document.graph.nodes[inside].pos == pytest.approx([100, 60], abs=1.5)
    assert document.graph.nodes[outside].pos == [600, 0]
    assert document.undo_stack.count() == steps + 1
    document.undo_stack.undo()
    assert document.graph.nodes[inside].pos == [0, 0] and document.graph.groups[0]["rect"][:2] == [x, y]
    assert view.graph_scene.group_items[0].pos() == QPointF(x, y)
    corner = view.graph_scene.group_items[0].scene_rect().bottomRight()
    drag(qtbot, view, at(view, corner - QPointF(5, 5)), at(view, corner + QPointF(95, 45)))
    assert document.graph.groups[0]["rect"][2:] == pytest.approx([group["rect"][2] + 100, group["rect"][3] + 50],
                                                                  abs=1.5)
    qtbot.mouseDClick(view.viewport(), LEFT, NO_KEYS, at(view, QPointF(x + 60, y + 12)))
    editor = view._title_editor
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "Background")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert document.graph.groups[0]["title"] == "Background" and view._title_editor is None
    assert view.graph_scene.group_items[0].title == "Background"
    qtbot.mouseClick(view.viewport(), LEFT, NO_KEYS, at(view, QPointF(x + 60, y + 12)))
    key(qtbot, view, Qt.Key.Key_Delete)
    assert document.graph.groups == [] and inside in document.graph.nodes


# ----- clipboard --------------------------------------------------------------------------------
def test_copy_and_paste_go_through_the_clipboard_as_json_even_between_windows(qtbot, view, document, registry):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (300, 0))
    document.connect(solid, "image", blur, "image")
    view.select([solid, blur])
    key(qtbot, view, Qt.Key.Key_C, CTRL)
    text = QGuiApplication.clipboard().text()
    assert json.loads(text)["format"] == "reelgraph.fragment"
    other_document = WorkflowDocument(registry)
    other = make_view(qtbot, other_document)
    hover(other, QPoint(200, 200))
    key(qtbot, other, Qt.Key.Key_V, CTRL)
    assert len(other_document.graph.nodes) == 2
    new_solid, new_blur = other_document.graph.nodes
    assert other_document.graph.nodes[new_blur].inputs["image"] == [new_solid, "image"]
    assert other.selected_ids() == [new_solid, new_blur]
    assert other_document.graph.nodes[new_solid].pos == pytest.approx(
        [other.mapToScene(QPoint(200, 200)).x(), other.mapToScene(QPoint(200, 200)).y()], abs=1), \
        "pasted where the cursor is"


def test_ctrl_d_duplicates_without_touching_the_clipboard_and_bad_clipboards_give_a_hint(qtbot, view, document):
    QGuiApplication.clipboard().setText("just some words")
    blur = document.add_node("image.Blur", (0, 0))
    view.select([blur])
    key(qtbot, view, Qt.Key.Key_D, CTRL)
    assert len(document.graph.nodes) == 2 and view.selected_ids() != [blur]
    assert QGuiApplication.clipboard().text() == "just some words"
    with qtbot.waitSignal(view.hint, timeout=1000) as hint:
        key(qtbot, view, Qt.Key.Key_V, CTRL)
    assert "no Reelgraph nodes" in hint.args[0] and len(document.graph.nodes) == 2


# ----- view: fit, zoom, pan, minimap, level of detail -------------------------------------------
def test_f_fits_every_node_in_view(qtbot, view, document):
    nodes = [document.add_node("core.Float", (x, y)) for x, y in ((-3000, -1000), (4000, 2500), (0, 0))]
    key(qtbot, view, Qt.Key.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for node_id in nodes:
        item = view.graph_scene.node_item(node_id)
        assert visible.contains(item.rect.translated(item.pos()))
    assert view.zoom() < 0.4


def test_wheel_zooms_around_the_cursor(qtbot, view):
    cursor = QPoint(300, 200)
    before = view.mapToScene(cursor)
    event = QWheelEvent(QPointF(cursor), QPointF(view.viewport().mapToGlobal(cursor)), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, NO_KEYS, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom() > 1.3
    after = view.mapToScene(cursor)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2


def test_middle_button_and_space_drag_pan_the_view(qtbot, view):
    before = view.mapToScene(QPoint(0, 0))
    drag(qtbot, view, QPoint(400, 400), QPoint(300, 350), button=Qt.MouseButton.MiddleButton)
    moved = view.mapToScene(QPoint(0, 0))
    assert (moved.x() - before.x(), moved.y() - before.y()) == pytest.approx((100, 50), abs=2)
    qtbot.keyPress(view, Qt.Key.Key_Space)
    drag(qtbot, view, QPoint(400, 400), QPoint(500, 400))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert view.mapToScene(QPoint(0, 0)).x() == pytest.approx(before.x(), abs=2)


def test_the_minimap_shows_the_view_and_a_click_jumps_there(qtbot, view, document):
    document.add_node("core.Float", (0, 0))
    document.add_node("core.Float", (5000, 3000))
    minimap = view.minimap
    assert minimap.isVisible()
    minimap.grab()
    target = minimap.to_minimap(view.graph_scene.node_item("2").rect.translated(5000, 3000)).center()
    qtbot.mouseClick(minimap, LEFT, NO_KEYS, target.toPoint())
    centre = view.mapToScene(view.viewport().rect().center())
    assert abs(centre.x() - 5100) < 200 and abs(centre.y() - 3050) < 200


def test_far_out_nodes_become_plain_rectangles_without_text(qtbot, view, document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (300, 0))
    document.connect(solid, "image", blur, "image")
    item = view.graph_scene.node_item(solid)
    view.set_zoom(0.3)
    assert view.graph_scene.far and view.graph_scene.overview.isVisible()
    assert item.flags() & QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, "Qt skips the node; the layer draws it"
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    view.render(painter)
    painter.end()
    added = document.add_node("core.Float", (0, 300))
    assert view.graph_scene.node_item(added).flags() & QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
    view.set_zoom(0.8)
    assert not view.graph_scene.far and not view.graph_scene.overview.isVisible()
    assert not item.flags() & QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


# ----- run state --------------------------------------------------------------------------------
def test_run_states_show_on_the_nodes_and_clear(view, document):
    first = document.add_node("diffusion.TextToImage", (0, 0))
    second = document.add_node("image.Blur", (400, 0))
    item = view.graph_scene.node_item(first)
    plain = item.height
    preview = np.zeros((32, 48, 3), np.uint8)
    preview[:, :, 1] = 200
    view.set_run_state(first, "running", 0.25, preview)
    assert item.state == "running" and item.fraction == 0.25
    assert item.preview is not None and item.height > plain, "the step preview sits on the node"
    assert item.preview.pixelColor(5, 5).green() == 200
    view.set_run_state(second, "error", message="radius must be positive")
    blur_item = view.graph_scene.node_item(second)
    assert blur_item.state == "error" and blur_item.toolTip() == "radius must be positive"
    view.set_run_state(first, "cached")
    assert "cache" in item.toolTip()
    view.grab()
    with pytest.raises(ValueError):
        view.set_run_state(first, "exploded")
    view.set_run_state("no such node", "done")
    view.clear_run_states()
    assert item.state == blur_item.state == "idle" and item.preview is None and item.height == plain


# ----- undo and redo ----------------------------------------------------------------------------
def test_undo_and_redo_refresh_the_canvas(view, document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (300, 0))
    document.connect(solid, "image", blur, "image")
    document.set_value(blur, "radius", 12.5)
    document.set_title(blur, "Soften")
    scene = view.graph_scene
    assert scene.node_item(blur).title == "Soften"
    document.undo_stack.undo()
    assert scene.node_item(blur).title == "Blur"
    document.undo_stack.undo()
    assert ("radius", "12.5") not in [(name, value) for _, name, value in scene.node_item(blur)._field_rows]
    document.undo_stack.undo()
    assert (blur, "image") not in scene.links.links and scene.node_item(blur).linked == set()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert scene.node_item(solid) is None
    for _ in range(5):
        document.undo_stack.redo()
    assert scene.node_item(blur).title == "Soften" and (blur, "image") in scene.links.links
    ctrl_z = view.document.undo_stack.count()
    assert ctrl_z == 5


def test_opening_another_workflow_rebuilds_and_fits(view, document, registry):
    graph = Graph()
    previous = None
    for index in range(60):
        previous = graph.add("math.Add", {"a": (previous, "sum") if previous else 0.0, "b": 1.0},
                             pos=(index * 240, (index % 5) * 150))
    document.add_node("core.Float")
    document.replace(graph)
    scene = view.graph_scene
    assert set(scene.items_by_id) == set(graph.nodes) and len(scene.links.links) == 59
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(scene.content_rect())


# ----- how it looks -----------------------------------------------------------------------------
def test_screenshot_of_a_sample_graph(qtbot, view, document):
    graph = Graph()
    checkpoint = graph.add("model.Checkpoint", {"checkpoint": "dreamshaper_8.safetensors", "dtype": "auto"},
                           pos=(0, 40), title="Checkpoint")
    prompt = graph.add("core.String", {"value": "a neon fox running through rain, cinematic"}, pos=(0, 220))
    image = graph.add("diffusion.TextToImage", {"model": (checkpoint, "model"), "prompt": (prompt, "value"),
                                                "negative": "blurry", "seed": 42, "steps": 24, "cfg": 6.5,
                                                "scheduler": "default", "width": 768, "height": 432, "batch": 1},
                      pos=(300, 20))
    blur = graph.add("image.Blur", {"image": (image, "image"), "radius": 2.0}, pos=(620, 20), title="Soften")
    reroute = graph.add("core.Reroute", {"value": (blur, "image")}, pos=(880, 150))
    save = graph.add("image.Save", {"image": (reroute, "value"), "filename_prefix": "fox", "embed_workflow": True},
                     pos=(960, 20))
    graph.add("image.Solid", {"width": 768, "height": 432, "color": "#0b0f14"}, pos=(620, 260), bypass=True)
    collapsed = graph.add("core.Seed", {"seed": 42, "mode": "fixed"}, pos=(0, 400))
    graph.nodes[collapsed].extra["collapsed"] = True
    graph.add("math.Add", {"a": 1.5, "b": 2.0}, pos=(960, 250), title="Frame offset")
    graph.groups = [{"title": "Generate", "rect": [-30, -40, 620, 520], "color": "#00ffea"},
                    {"title": "Output", "rect": [920, -40, 300, 400], "color": "#ff9f43"}]
    document.replace(graph)
    view.resize(1400, 760)
    view.fit_all()
    gradient = np.zeros((90, 160, 3), np.uint8)
    gradient[:, :, 0] = np.linspace(20, 255, 160, dtype=np.uint8)[None, :]
    gradient[:, :, 1] = np.linspace(0, 200, 90, dtype=np.uint8)[:, None]
    gradient[:, :, 2] = 180
    view.set_run_state(checkpoint, "cached")
    view.set_run_state(prompt, "done")
    view.set_run_state(image, "running", 0.6, gradient)
    view.set_run_state(blur, "queued")
    view.set_run_state(save, "error", message="the output folder is read-only")
    view.select([blur])
    qtbot.wait(150)  # the minimap redraws at most ten times a second
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "graph_editor.png"
    assert view.grab().save(str(path))
    assert path.stat().st_size > 10_000
