"""The workflow document as a creator's file: it round-trips exactly, keeps what a
newer Reelgraph wrote, saves atomically, refuses anything that is not strict JSON,
and explains every structural problem at once, naming the node."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

import nodes.atomic_write
import nodes.graph
from nodes.graph import MAX_NESTING, Graph, parse_json
from nodes.problems import WorkflowError


@pytest.fixture
def fox(make_document) -> dict:
    """A small text-to-picture workflow using every kind of value a document holds."""
    return make_document({
        "prompt": {"type": "core.String", "inputs": {"value": "a fox in the snow, 雪の狐 🦊"},
                   "title": "Prompt", "pos": [10, -20.5]},
        "size": {"type": "core.Int", "inputs": {"value": 512}, "pos": [0, 200]},
        "half": {"type": "math.Expression", "inputs": {"expression": "a / 2", "a": ["size", "value"]},
                 "bypass": True},
        "picture": {"type": "image.Solid", "inputs": {"width": ["size", "value"], "height": 256,
                                                      "color": "#102030"}},
    }, groups=[{"title": "Inputs", "nodes": ["prompt", "size"], "bounding": [0, 0, 300, 400]}],
        meta={"author": "Ana", "tags": ["test", 1, 2.5, None, True]})


# ----- round trip --------------------------------------------------------------------------

def test_canonical_workflow_round_trips_exactly(fox: dict) -> None:
    document = fox
    assert Graph.from_dict(document).to_dict() == document


def test_round_trip_does_not_share_state_with_the_document(fox: dict) -> None:
    document = fox
    graph = Graph.from_dict(document)
    document["nodes"]["prompt"]["inputs"]["value"] = "changed behind the graph's back"
    document["meta"]["tags"].append("more")
    assert graph.nodes["prompt"].inputs["value"] == "a fox in the snow, 雪の狐 🦊"
    assert graph.meta["tags"] == ["test", 1, 2.5, None, True]


def test_keys_written_by_a_newer_version_survive_open_and_save(tmp_path: Path, fox: dict) -> None:
    document = fox
    document["timeline"] = {"tracks": [[1, 2], {"clip": "intro"}]}
    document["nodes"]["size"]["color"] = "#ff0000"
    document["nodes"]["size"]["widgets_collapsed"] = [True, False]
    path = Graph.from_dict(document).save(tmp_path / "newer.reelgraph.json")
    reopened = Graph.load(path).to_dict()
    assert reopened["timeline"] == {"tracks": [[1, 2], {"clip": "intro"}]}
    assert reopened["nodes"]["size"]["color"] == "#ff0000"
    assert reopened == document


def test_missing_optional_node_keys_get_their_defaults() -> None:
    graph = Graph.from_dict({"format": "reelgraph.workflow", "version": 1,
                             "nodes": {"1": {"type": "core.Int"}}})
    assert graph.to_dict()["nodes"]["1"] == {"type": "core.Int", "inputs": {}, "title": "",
                                             "pos": [0, 0], "bypass": False}


def test_graph_built_in_code_turns_tuples_into_links() -> None:
    graph = Graph()
    number = graph.add("core.Int", {"value": 3})
    doubled = graph.add("math.Multiply", {"a": (number, "value"), "b": 2})
    assert graph.to_dict()["nodes"][doubled]["inputs"]["a"] == [number, "value"]
    assert graph.consumers()[number] == [doubled]
    with pytest.raises(ValueError, match="already exists"):
        graph.add("core.Int", node_id=number)


# ----- load and save ---------------------------------------------------------------------

def test_save_then_load_gives_the_same_workflow(tmp_path: Path, fox: dict) -> None:
    document = fox
    path = Graph.from_dict(document).save(tmp_path / "fox.json")
    assert Graph.load(path).to_dict() == document
    assert json.loads(path.read_text(encoding="utf-8")) == document


def test_save_leaves_no_temporary_file_behind(tmp_path: Path, fox: dict) -> None:
    graph = Graph.from_dict(fox)
    for _ in range(3):
        graph.save(tmp_path / "fox.json")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["fox.json"]


def test_save_into_a_new_folder_creates_it(tmp_path: Path, fox: dict) -> None:
    path = Graph.from_dict(fox).save(tmp_path / "projects" / "fox" / "fox.json")
    assert Graph.load(path).nodes.keys() == {"prompt", "size", "half", "picture"}


def test_crash_while_saving_keeps_the_old_file_and_no_temp_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, fox: dict) -> None:
    path = tmp_path / "fox.json"
    Graph.from_dict(fox).save(path)
    before = path.read_bytes()

    def power_cut(descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(nodes.atomic_write.os, "fsync", power_cut)
    changed = Graph.from_dict(fox)
    changed.nodes["size"].inputs["value"] = 1024
    with pytest.raises(OSError):
        changed.save(path)
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["fox.json"]


def test_saving_a_value_json_cannot_hold_keeps_the_old_file(tmp_path: Path, fox: dict) -> None:
    path = tmp_path / "fox.json"
    graph = Graph.from_dict(fox)
    graph.save(path)
    before = path.read_bytes()
    graph.meta["ratio"] = float("nan")
    with pytest.raises(ValueError):
        graph.save(path)
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["fox.json"]


def test_text_with_a_lone_surrogate_saves_and_opens_again(tmp_path: Path) -> None:
    # "\ud83d" alone is legal JSON ("\\ud83d" escape), so a file may carry it.
    graph = Graph.loads('{"format": "reelgraph.workflow", "version": 1, "nodes": '
                        '{"1": {"type": "core.String", "inputs": {"value": "half an emoji \\ud83d"}}}}')
    path = graph.save(tmp_path / "odd.json")
    path.read_bytes().decode("utf-8")  # the file itself is valid UTF-8
    assert Graph.load(path).nodes["1"].inputs["value"] == "half an emoji \ud83d"


def test_a_file_with_a_byte_order_mark_opens(tmp_path: Path, fox: dict) -> None:
    path = tmp_path / "notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(fox).encode("utf-8"))
    assert Graph.load(path).to_dict() == fox


def test_opening_a_missing_file_says_it_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="does not exist") as caught:
        Graph.load(tmp_path / "nowhere.json")
    assert "nowhere.json" in str(caught.value)


def test_opening_a_folder_says_it_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="folder"):
        Graph.load(tmp_path)


# ----- strict JSON -----------------------------------------------------------------------

@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_numbers_that_are_not_finite_are_refused(number: str) -> None:
    text = '{"format": "reelgraph.workflow", "version": 1, "nodes": {"1": {"type": "core.Float", ' \
           '"inputs": {"value": %s}}}}' % number
    with pytest.raises(WorkflowError) as caught:
        Graph.loads(text)
    assert number.lstrip("-") in str(caught.value)


def test_bad_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    text = '{"format": "reelgraph.workflow", "version": 1, "meta": {"city": "Málaga"}}'
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(WorkflowError) as caught:
        Graph.load(path)
    assert "not UTF-8" in str(caught.value)
    assert f"offset {text.index('á')}" in str(caught.value)
    assert caught.value.problems[0].fix
    assert caught.value.source == str(path)


def test_truncated_file_names_line_and_column(tmp_path: Path, fox: dict) -> None:
    full = json.dumps(fox, indent=2)
    path = tmp_path / "cut.json"
    path.write_text(full[: len(full) // 2], encoding="utf-8")
    with pytest.raises(WorkflowError, match=r"not valid JSON: .* at line \d+, column \d+"):
        Graph.load(path)


def test_empty_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    with pytest.raises(WorkflowError, match="not valid JSON"):
        Graph.load(path)


def test_an_integer_too_long_to_read_is_refused() -> None:
    text = '{"format": "reelgraph.workflow", "version": 1, "meta": {"n": %s}}' % ("9" * 5000)
    with pytest.raises(WorkflowError, match="not valid JSON"):
        Graph.loads(text)


@pytest.mark.parametrize("top_level", ['[]', '"workflow"', '42', 'null'])
def test_a_document_that_is_not_an_object_is_refused(top_level: str) -> None:
    with pytest.raises(WorkflowError, match="must be a JSON object"):
        Graph.loads(top_level)


# ----- format and version ------------------------------------------------------------------

def test_newer_version_is_refused_with_a_clear_message(fox: dict) -> None:
    document = fox
    document["version"] = 7
    with pytest.raises(WorkflowError) as caught:
        Graph.from_dict(document, source="from-the-future.json")
    message = str(caught.value)
    assert message.startswith("from-the-future.json: ")
    assert "newer Reelgraph" in message and "version 7" in message
    assert caught.value.problems[0].fix == "update Reelgraph to open it"


def test_older_version_is_migrated_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def from_version_0(document: dict) -> dict:
        calls.append(document["version"])
        for node in document["nodes"].values():
            node["type"] = {"Number": "core.Int"}.get(node.pop("kind"), "?")
            node["inputs"] = node.pop("values")
        return document

    monkeypatch.setitem(nodes.graph.MIGRATIONS, 0, from_version_0)
    old = {"format": "reelgraph.workflow", "version": 0,
           "nodes": {"1": {"kind": "Number", "values": {"value": 3}}}}
    kept = copy.deepcopy(old)
    graph = Graph.from_dict(old)
    assert calls == [0]
    assert graph.nodes["1"].type == "core.Int"
    assert graph.nodes["1"].inputs == {"value": 3}
    assert graph.to_dict()["version"] == 1
    assert old == kept, "migrating must not change the caller's document"


def test_a_version_with_no_migration_path_is_refused(fox: dict) -> None:
    document = fox
    document["version"] = -3
    with pytest.raises(WorkflowError, match="format version -3 is not one Reelgraph ever wrote"):
        Graph.from_dict(document)


@pytest.mark.parametrize("version", ["1", 1.0, True, None, [1]])
def test_a_version_that_is_not_a_whole_number_is_refused(version: object, fox: dict) -> None:
    document = fox
    document["version"] = version
    with pytest.raises(WorkflowError, match="'version' must be a whole number"):
        Graph.from_dict(document)


def test_a_gigantic_version_number_is_refused_without_crashing() -> None:
    with pytest.raises(WorkflowError, match="newer Reelgraph"):
        Graph.from_dict({"format": "reelgraph.workflow", "version": 10**5000, "nodes": {}})
    with pytest.raises(WorkflowError, match="is not one Reelgraph ever wrote"):
        Graph.from_dict({"format": "reelgraph.workflow", "version": -(10**5000), "nodes": {}})


def test_comfyui_workflow_gets_a_hint() -> None:
    comfy = {"last_node_id": 9, "last_link_id": 9, "nodes": [{"id": 3, "type": "KSampler"}],
             "links": [[1, 4, 0, 3, 0, "MODEL"]], "version": 0.4}
    with pytest.raises(WorkflowError, match="looks like a ComfyUI workflow"):
        Graph.from_dict(comfy)


def test_some_other_json_file_is_not_a_workflow_and_gets_no_comfyui_hint() -> None:
    with pytest.raises(WorkflowError) as caught:
        Graph.loads('{"name": "package.json", "version": "1.0.0"}')
    assert "not a Reelgraph workflow" in str(caught.value)
    assert "ComfyUI" not in str(caught.value)


# ----- deep nesting ----------------------------------------------------------------------

def deeply_nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_json_nested_past_the_parser_limit_is_refused_cleanly() -> None:
    with pytest.raises(WorkflowError, match="nested too deeply"):
        Graph.loads('{"format": "reelgraph.workflow", "version": 1, "meta": {"x": '
                    + "[" * 100_000 + "]" * 100_000 + "}}")


def test_a_deeply_nested_input_value_names_node_and_input(make_document) -> None:
    document = make_document({"1": {"type": "text.Template", "inputs": {"a": deeply_nested(MAX_NESTING + 1)}}})
    with pytest.raises(WorkflowError) as caught:
        Graph.from_dict(document)
    problem = caught.value.problems[0]
    assert (problem.node_id, problem.input) == ("1", "a")
    assert "nested" in problem.message


def test_deep_nesting_in_meta_or_groups_is_refused_without_recursion(make_document) -> None:
    for key in ("meta", "groups", "extension"):
        document = make_document({})
        document[key] = {"x": deeply_nested(200_000)} if key == "meta" else deeply_nested(200_000)
        with pytest.raises(WorkflowError, match="nested more than"):
            Graph.from_dict(document)


def test_nesting_up_to_the_limit_is_accepted(tmp_path: Path, make_document) -> None:
    document = make_document({"1": {"type": "text.Template", "inputs": {"a": deeply_nested(MAX_NESTING)}}})
    graph = Graph.from_dict(document)
    assert Graph.load(graph.save(tmp_path / "deep.json")).to_dict() == document


# ----- structural problems ------------------------------------------------------------------

def test_every_broken_node_is_reported_at_once_by_name(make_document) -> None:
    document = make_document({"fine": {"type": "core.Int", "inputs": {"value": 1}}})
    document["nodes"].update({
        "no-type": {"inputs": {}},
        "number-type": {"type": 5},
        "list-inputs": {"type": "core.Int", "inputs": [1, 2]},
        "numeric-title": {"type": "core.Int", "title": 7},
        "bad-pos": {"type": "core.Int", "pos": [1]},
        "text-bypass": {"type": "core.Int", "bypass": "yes"},
        "a-list": ["core.Int"],
        "": {"type": "core.Int"},
    })
    with pytest.raises(WorkflowError) as caught:
        Graph.from_dict(document, source="broken.json")
    named = {problem.node_id for problem in caught.value.problems}
    assert named == {"no-type", "number-type", "list-inputs", "numeric-title", "bad-pos",
                     "text-bypass", "a-list", ""}
    assert "(and 7 more problems)" in str(caught.value)
    by_node = {problem.node_id: problem.message for problem in caught.value.problems}
    assert "'type'" in by_node["no-type"]
    assert "'inputs'" in by_node["list-inputs"]
    assert "'title'" in by_node["numeric-title"]
    assert "'pos'" in by_node["bad-pos"]
    assert "'bypass'" in by_node["text-bypass"]
    assert "empty id" in by_node[""]


@pytest.mark.parametrize("position", [[float("nan"), 0], [0, float("inf")], [True, 0], ["1", 2], [1, 2, 3], {"x": 1},
                                      [10**400, 0]],
                         ids=["nan", "infinity", "bool", "text", "three", "object", "too-large-for-a-float"])
def test_node_position_must_be_two_finite_numbers(position: object, make_document) -> None:
    document = make_document({"1": {"type": "core.Int", "pos": position}})
    with pytest.raises(WorkflowError, match="'pos' must be two finite numbers"):
        Graph.from_dict(document)


def test_wrong_shapes_of_the_top_level_are_all_reported() -> None:
    document = {"format": "reelgraph.workflow", "version": 1, "nodes": [], "groups": {}, "meta": []}
    with pytest.raises(WorkflowError) as caught:
        Graph.from_dict(document)
    messages = " | ".join(problem.message for problem in caught.value.problems)
    assert "'nodes' must be an object" in messages
    assert "'groups' must be a list" in messages
    assert "'meta' must be an object" in messages
    assert all(problem.node_id is None and problem.where() == "workflow" for problem in caught.value.problems)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10**5000, {1: "a"}, (1, 2), {1, 2}, b"bytes", object()],
                         ids=["nan", "infinity", "ten-to-the-5000", "number-key", "tuple", "set", "bytes", "object"])
def test_a_value_json_cannot_hold_is_refused_when_the_workflow_is_built(value: object, make_document) -> None:
    """A workflow built from a Python dict must stay savable: nothing goes in that JSON cannot write."""
    document = make_document({"1": {"type": "text.Template", "inputs": {"a": value}}})
    with pytest.raises(WorkflowError) as caught:
        Graph.from_dict(document)
    problem = caught.value.problems[0]
    assert (problem.node_id, problem.input) == ("1", "a")


@pytest.mark.parametrize("where", ["meta", "groups", "extension", "node-extra"])
def test_a_value_json_cannot_hold_is_refused_anywhere_in_the_document(where: str, make_document) -> None:
    document = make_document({"1": {"type": "core.Int"}})
    unwritable = {"ratio": float("nan")}
    if where == "node-extra":
        document["nodes"]["1"]["colour"] = unwritable
    elif where == "groups":
        document["groups"] = [unwritable]
    else:
        document[where] = unwritable
    with pytest.raises(WorkflowError, match="JSON"):
        Graph.from_dict(document)


def test_parse_json_accepts_plain_text_and_bytes_alike() -> None:
    assert parse_json('{"a": [1, 2.5, "x", null, true]}') == parse_json(b'{"a": [1, 2.5, "x", null, true]}')


def test_nothing_but_the_target_file_exists_after_many_saves(tmp_path: Path, fox: dict) -> None:
    graph = Graph.from_dict(fox)
    for number in range(20):
        graph.meta["revision"] = number
        graph.save(tmp_path / "fox.json")
    assert os.listdir(tmp_path) == ["fox.json"]
    assert Graph.load(tmp_path / "fox.json").meta["revision"] == 19


def test_saving_over_a_file_keeps_its_permissions(tmp_path) -> None:
    import stat

    path = tmp_path / "shared.json"
    Graph().save(path)
    path.chmod(0o640)
    Graph().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
