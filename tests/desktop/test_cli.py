"""The `reelgraph` command, as a creator or a script uses it on a machine with no display."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.cli import main, parse_override
from nodes.graph import Graph
from resources import example_workflow

HELLO = example_workflow("hello")


def write_workflow(path: Path, graph: Graph) -> Path:
    graph.save(path)
    return path


def solid_to_save(colour: str = "#ff0000") -> Graph:
    graph = Graph()
    solid = graph.add("image.Solid", {"width": 8, "height": 4, "color": colour}, node_id="solid")
    graph.add("image.Save", {"image": [solid, "image"], "filename_prefix": "card"}, node_id="save")
    return graph


def test_starter_workflow_renders_a_png_that_carries_its_workflow(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(HELLO), "--out", str(out), "--quiet"]) == 0
    saved = sorted((out / "hello").glob("card_*.png"))
    assert [path.name for path in saved] == ["card_00001.png"]
    assert Graph.load(saved[0]).to_dict() == Graph.load(HELLO).to_dict()
    assert (out / "preview-10.png").is_file()
    printed = capsys.readouterr().out
    assert "card_00001.png" in printed and "preview saved" in printed


def test_a_saved_png_can_be_run_again_as_a_workflow(tmp_path):
    workflow = write_workflow(tmp_path / "red.json", solid_to_save())
    assert main(["run", str(workflow), "--out", str(tmp_path / "first"), "--quiet"]) == 0
    png = tmp_path / "first" / "card_00001.png"
    assert main(["run", str(png), "--out", str(tmp_path / "second"), "--quiet"]) == 0
    again = np.asarray(Image.open(tmp_path / "second" / "card_00001.png"))
    assert again.shape == (4, 8, 3) and (again == [255, 0, 0]).all()


def test_set_changes_an_input_before_running(tmp_path):
    workflow = write_workflow(tmp_path / "card.json", solid_to_save("#ff0000"))
    code = main(["run", str(workflow), "--out", str(tmp_path), "--quiet",
                 "--set", "solid.color=#0000ff", "--set", "solid.width=16"])
    assert code == 0
    pixels = np.asarray(Image.open(tmp_path / "card_00001.png"))
    assert pixels.shape == (4, 16, 3) and (pixels == [0, 0, 255]).all()


def test_set_values_are_json_or_plain_text():
    assert parse_override("3.steps=20") == ("3", "steps", 20)
    assert parse_override("3.cfg=7.5") == ("3", "cfg", 7.5)
    assert parse_override("3.on=true") == ("3", "on", True)
    assert parse_override("my.node.prompt=a red fox") == ("my.node", "prompt", "a red fox")
    assert parse_override("3.value=NaN") == ("3", "value", "NaN")
    with pytest.raises(ValueError, match="NODE.INPUT=VALUE"):
        parse_override("steps=20")


def test_set_naming_a_missing_node_or_input_is_refused_with_the_choices(tmp_path, capsys):
    workflow = write_workflow(tmp_path / "card.json", solid_to_save())
    code = main(["run", str(workflow), "--out", str(tmp_path), "--set", "nope.color=red",
                 "--set", "solid.colour=red"])
    assert code == 2
    report = capsys.readouterr().err
    assert "'nope'" in report and "use one of: 'solid', 'save'" in report
    assert "'colour'" in report and "width, height, color" in report
    assert not list(tmp_path.glob("*.png"))


def test_invalid_workflow_exits_2_and_reports_every_problem(tmp_path, capsys):
    graph = Graph()
    graph.add("image.Solidd", {}, node_id="typo")
    graph.add("image.Blur", {"image": ["ghost", "image"], "radius": -1.0}, node_id="blur")
    graph.add("image.Save", {"image": ["blur", "image"]}, node_id="save")
    workflow = write_workflow(tmp_path / "bad.json", graph)
    assert main(["run", str(workflow), "--out", str(tmp_path / "out")]) == 2
    report = capsys.readouterr().err
    assert "node 'typo' (image.Solidd): unknown node type" in report and "did you mean 'image.Solid'" in report
    assert "node 'blur' (image.Blur), input 'image': is linked to node 'ghost'" in report
    assert "input 'radius': is -1.0, below the minimum" in report
    assert not (tmp_path / "out").exists()


def test_unreadable_file_exits_2_with_a_message(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "reelgraph.workflow", "version": 1, "nodes": {', encoding="utf-8")
    assert main(["run", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_failed_node_exits_1_names_the_node_and_keeps_other_branches(tmp_path, capsys):
    graph = solid_to_save()
    load = graph.add("image.Load", {"path": str(tmp_path / "nowhere.png")}, node_id="load", title="Hero shot")
    graph.add("image.Save", {"image": [load, "image"], "filename_prefix": "hero"}, node_id="save-hero")
    workflow = write_workflow(tmp_path / "mixed.json", graph)
    code = main(["run", str(workflow), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "Hero shot (load)" in err and "image file not found" in err and "nowhere.png" in err
    assert "save-hero: not run because Hero shot (load) failed" in err
    assert (tmp_path / "out" / "card_00001.png").is_file()
    log_file = Path(os.environ["REELGRAPH_HOME"]) / "logs" / "reelgraph.log"
    assert "Traceback" in log_file.read_text(encoding="utf-8")


def test_events_file_holds_every_event_in_order(tmp_path):
    workflow = write_workflow(tmp_path / "card.json", solid_to_save())
    events_path = tmp_path / "events.jsonl"
    assert main(["run", str(workflow), "--out", str(tmp_path), "--quiet", "--events", str(events_path)]) == 0
    events = [json.loads(line) for line in events_path.read_text(encoding="utf-8").splitlines()]
    kinds = [(event["event"], event.get("node_id")) for event in events]
    assert kinds[0] == ("run_started", None) and kinds[-1] == ("run_finished", None)
    assert events[0]["to_run"] == 2
    for node_id in ("solid", "save"):
        started = kinds.index(("node_started", node_id))
        assert started < kinds.index(("node_finished", node_id))
    assert kinds.index(("node_finished", "solid")) < kinds.index(("node_started", "save"))


def test_json_summary_describes_outputs(tmp_path, capsys):
    workflow = write_workflow(tmp_path / "card.json", solid_to_save())
    assert main(["run", str(workflow), "--out", str(tmp_path), "--quiet", "--json", "--target", "solid"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is True and summary["executed"] == ["solid"]
    assert summary["outputs"]["solid"]["image"] == {"shape": [4, 8, 3], "dtype": "uint8"}


def test_validate_reports_and_sets_the_exit_status(tmp_path, capsys):
    assert main(["validate", str(HELLO)]) == 0
    assert "valid" in capsys.readouterr().out
    graph = Graph()
    graph.add("math.Add", {"a": ["2", "sum"]}, node_id="1")
    graph.add("math.Add", {"a": ["1", "sum"]}, node_id="2")
    workflow = write_workflow(tmp_path / "loop.json", graph)
    assert main(["validate", str(workflow), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    cycle = [problem for problem in report["problems"] if problem["code"] == "cycle"]
    assert len(cycle) == 1 and "'1'" in cycle[0]["message"] and "'2'" in cycle[0]["message"]


def test_nodes_json_lists_every_spec(capsys):
    assert main(["nodes", "--json"]) == 0
    specs = json.loads(capsys.readouterr().out)
    for type_name in ("core.Seed", "math.Expression", "text.Template", "image.Save", "image.Blend"):
        assert type_name in specs
    blur = specs["image.Blur"]
    assert blur["category"] == "image" and blur["description"]
    assert blur["inputs"][1] == {
        "name": "radius", "type": "FLOAT", "default": 4.0, "min": 0.0, "max": 512.0, "step": 0.5,
        "multiline": False, "optional": False, "required": False,
    }
    assert blur["outputs"] == [{"name": "image", "type": "IMAGE"}]
    assert specs["image.Save"]["output_node"] is True


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "run" in printed and "validate" in printed


def test_no_arguments_opens_the_desktop_app(monkeypatch):
    import desktop.app

    opened = []
    monkeypatch.setattr(desktop.app, "run_app", lambda argv: opened.append(list(argv)) or 0)
    assert main([]) == 0
    assert opened == [[]]


SLOW_PACK = textwrap.dedent('''
    from nodes.spec import Input, Output, node

    @node("slow.Count", category="test", description="Counts slowly, a step at a time.",
          inputs=[Input("steps", "INT", default=200)], outputs=[Output("count", "INT")], output=True)
    def count(ctx, steps):
        for step in range(steps):
            ctx.progress(step / steps)
            ctx.cancel.wait(0.05)
        return steps
''')


def run_command(arguments: list[str], env: dict[str, str], **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "desktop.cli", *arguments], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options,
    )


@pytest.fixture
def pack_env(tmp_path) -> dict[str, str]:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "slow.py").write_text(SLOW_PACK, encoding="utf-8")
    (packs / "broken.py").write_text("import definitely_not_installed_package\n", encoding="utf-8")
    return {**os.environ, "REELGRAPH_NODES": str(packs), "REELGRAPH_HOME": str(tmp_path / "home")}


def test_a_broken_pack_is_reported_and_the_good_ones_still_load(pack_env):
    process = run_command(["nodes", "--json"], pack_env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0
    assert "slow.Count" in json.loads(out)
    assert "broken.py" in err and "definitely_not_installed_package" in err and "skipped" in err


def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path, pack_env):
    graph = Graph()
    graph.add("slow.Count", {"steps": 400}, node_id="count")
    workflow = write_workflow(tmp_path / "slow.json", graph)
    events = tmp_path / "events.jsonl"
    process = run_command(["run", str(workflow), "--events", str(events), "--out", str(tmp_path)], pack_env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if events.exists() and "node_progress" in events.read_text(encoding="utf-8"):
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the slow node never reported progress")
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert time.monotonic() - interrupted < 5, "cancellation must stop within a step, not at the end"
    assert "stopping" in err
    assert '"message": "cancelled"' in events.read_text(encoding="utf-8")


def test_progress_lines_appear_on_stderr_when_not_a_terminal(tmp_path, pack_env):
    workflow = write_workflow(tmp_path / "card.json", solid_to_save())
    process = run_command(["run", str(workflow), "--out", str(tmp_path)], pack_env, cwd=tmp_path)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "running 2 node(s)" in err and "done    image.Solid (solid)" in err and "finished in" in err
    assert "card_00001.png" in out


def test_models_lists_a_comfyui_folder(models_folder, capsys):
    assert main(["models", "--json"]) == 0
    listed = {(entry["kind"], entry["name"]): entry for entry in json.loads(capsys.readouterr().out)}
    assert listed[("checkpoint", "tiny-sd")]["family"] == "sd15"
    assert ("lora", "tiny-style.safetensors") in listed
    assert main(["models"]) == 0
    assert "Stable Diffusion 1.x" in capsys.readouterr().out


def test_models_in_an_empty_folder_says_where_to_put_them(tmp_path, capsys):
    assert main(["models", "--folder", str(tmp_path)]) == 0
    assert "ComfyUI" in capsys.readouterr().out
