"""Every edit a creator makes in the editor is one undo step, and undo puts back
exactly what was there."""

from __future__ import annotations

import pytest

from desktop.document import ConnectionRefused, WorkflowDocument
from nodes.graph import Graph


@pytest.fixture
def document(qapp, registry):
    return WorkflowDocument(registry)


def snapshot(document: WorkflowDocument) -> dict:
    return document.graph.to_dict()


def test_adding_a_node_stores_its_typed_in_defaults_and_undo_removes_it(document):
    solid = document.add_node("image.Solid", (10, 20))
    assert document.graph.nodes[solid].inputs == {"width": 512, "height": 512, "color": "#00ffea"}
    assert document.graph.nodes[solid].pos == [10, 20]
    document.undo_stack.undo()
    assert solid not in document.graph.nodes
    document.undo_stack.redo()
    assert solid in document.graph.nodes


def test_connecting_checks_types_and_loops_and_explains_why(document):
    solid = document.add_node("image.Solid")
    blur = document.add_node("image.Blur")
    number = document.add_node("core.Float")
    document.connect(solid, "image", blur, "image")
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]
    with pytest.raises(ConnectionRefused, match="image takes IMAGE, not FLOAT"):
        document.connect(number, "value", blur, "image")
    first = document.add_node("math.Add")
    second = document.add_node("math.Add")
    document.connect(first, "sum", second, "a")
    with pytest.raises(ConnectionRefused, match="loop"):
        document.connect(second, "sum", first, "a")
    document.connect(number, "value", blur, "radius")  # FLOAT into FLOAT


def test_disconnecting_a_typed_input_restores_its_default(document):
    number = document.add_node("core.Float", inputs={"value": 3.0})
    blur = document.add_node("image.Blur")
    document.connect(number, "value", blur, "radius")
    document.disconnect(blur, "radius")
    assert document.graph.nodes[blur].inputs["radius"] == 4.0
    document.undo_stack.undo()
    assert document.graph.nodes[blur].inputs["radius"] == [number, "value"]


def test_deleting_a_node_cuts_its_links_and_undo_restores_both(document):
    solid = document.add_node("image.Solid")
    blur = document.add_node("image.Blur")
    save = document.add_node("image.Save")
    document.connect(solid, "image", blur, "image")
    document.connect(blur, "image", save, "image")
    before = snapshot(document)
    document.remove_nodes([blur])
    assert blur not in document.graph.nodes and "image" not in document.graph.nodes[save].inputs
    document.undo_stack.undo()
    assert snapshot(document) == before, "node order, links and values all come back"


def test_a_drag_is_one_undo_step_however_many_moves_it_makes(document):
    node = document.add_node("core.Int", (0, 0))
    drag = document.new_drag()
    for step in range(1, 11):
        document.move_nodes({node: (step * 10, step)}, drag)
    assert document.graph.nodes[node].pos == [100, 10]
    document.undo_stack.undo()
    assert document.graph.nodes[node].pos == [0, 0]


def test_bypass_collapse_title_and_groups_undo(document):
    node = document.add_node("image.Blur")
    document.toggle_bypass([node])
    document.set_collapsed([node], True)
    document.set_title(node, "Soften")
    document.add_group("Background", (0, 0, 300, 200))
    assert document.graph.nodes[node].bypass and document.graph.nodes[node].extra["collapsed"] is True
    assert document.graph.groups[0]["title"] == "Background"
    for _ in range(4):
        document.undo_stack.undo()
    assert not document.graph.nodes[node].bypass and "collapsed" not in document.graph.nodes[node].extra
    assert document.graph.nodes[node].title == "" and document.graph.groups == []


def test_copy_paste_makes_fresh_copies_linked_among_themselves(document):
    solid = document.add_node("image.Solid", (0, 0))
    blur = document.add_node("image.Blur", (200, 0))
    outside = document.add_node("core.Float")
    document.connect(solid, "image", blur, "image")
    document.connect(outside, "value", blur, "radius")
    fragment = document.copy_fragment([solid, blur])
    pasted = document.paste_fragment(fragment, offset=(50, 50))
    assert len(pasted) == 2 and not set(pasted) & {solid, blur, outside}
    new_solid, new_blur = pasted
    assert document.graph.nodes[new_blur].inputs["image"] == [new_solid, "image"]
    assert "radius" not in document.graph.nodes[new_blur].inputs, "links to nodes left behind are dropped"
    assert document.graph.nodes[new_blur].pos == [250, 50]
    document.undo_stack.undo()
    assert set(document.graph.nodes) == {solid, blur, outside}


def test_dropping_a_node_onto_a_link_inserts_it(document):
    solid = document.add_node("image.Solid")
    save = document.add_node("image.Save")
    document.connect(solid, "image", save, "image")
    blur = document.add_node("image.Blur")
    assert document.insert_on_link(blur, save, "image")
    assert document.graph.nodes[blur].inputs["image"] == [solid, "image"]
    assert document.graph.nodes[save].inputs["image"] == [blur, "image"]
    document.undo_stack.undo()
    assert document.graph.nodes[save].inputs["image"] == [solid, "image"]


def test_replacing_the_document_clears_history_and_marks_it_saved(document, tmp_path):
    document.add_node("core.Int")
    assert document.modified
    document.replace(Graph(), tmp_path / "new.json")
    assert not document.modified and document.undo_stack.count() == 0
