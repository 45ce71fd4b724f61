"""Which socket or node fits a link: the editor's answers when a link is dropped on a
node's body, a node is dropped onto a link, or the palette is opened from a
dragged link and should list only the nodes that can take it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from nodes.spec import NodeSpec
from nodes.types import ANY, can_connect

if TYPE_CHECKING:
    from desktop.graph_scene import GraphScene

SpecTest = Callable[[NodeSpec], bool]


def pick_input(scene: "GraphScene", node_id: str, output_type: str) -> tuple[str, str] | None:
    """The input a link of ``output_type`` dropped on the node's body goes to: a free
    one of exactly that type first, then any that accepts it."""
    spec = scene.document.spec(node_id)
    if spec is None:
        return None
    linked = scene.items_by_id[node_id].linked
    candidates = [item for item in spec.inputs if can_connect(output_type, item.type)]
    candidates.sort(key=lambda item: (item.name in linked, item.type != output_type, item.accepts_constant))
    return (node_id, candidates[0].name) if candidates else None


def pick_output(scene: "GraphScene", node_id: str, input_type: str) -> tuple[str, str] | None:
    """The output that feeds an input of ``input_type`` (exact type first)."""
    spec = scene.document.spec(node_id)
    if spec is None:
        return None
    candidates = [item for item in spec.outputs if can_connect(item.type, input_type)]
    candidates.sort(key=lambda item: item.type != input_type)
    return (node_id, candidates[0].name) if candidates else None


def link_to_insert_into(scene: "GraphScene", node_id: str) -> tuple[str, str] | None:
    """The link under a dragged node that the node could be put into, if any."""
    item = scene.items_by_id.get(node_id)
    spec = scene.document.spec(node_id)
    if item is None or spec is None:
        return None
    area = item.rect.translated(item.pos())
    for key in scene.links.links_across(area, node_id):
        link = scene.links.links[key]
        flowing = scene.items_by_id[link.source].output_types.get(link.output, ANY)
        wanted = scene.items_by_id[link.reader].input_types.get(link.name, ANY)
        if any(can_connect(flowing, socket.type) for socket in spec.inputs) and \
                any(can_connect(socket.type, wanted) for socket in spec.outputs):
            return key
    return None


def takes(socket_type: str) -> tuple[SpecTest, SpecTest]:
    """Palette filters for a link coming out of an output: nodes that can take it, and
    the ones that take exactly this type (listed first)."""
    return (lambda spec: any(can_connect(socket_type, item.type) for item in spec.inputs),
            lambda spec: any(item.type == socket_type for item in spec.inputs))


def gives(socket_type: str) -> tuple[SpecTest, SpecTest]:
    """Palette filters for a link pulled out of an input: nodes that can feed it."""
    return (lambda spec: any(can_connect(item.type, socket_type) for item in spec.outputs),
            lambda spec: any(item.type == socket_type for item in spec.outputs))
