"""Where node types come from: the built-in library, packs installed with pip (entry
points), and files a creator drops into the nodes folder. A broken pack is reported
and skipped; it never stops Reelgraph from starting."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

import nodes.registry
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.registry import NodeRegistry, builtin_registry, default_registry
from nodes.spec import Input, NodeSpec, Output, node
from nodes.types import FLOAT, INT

BUILT_IN_TYPES = {
    "core.Int", "core.Float", "core.String", "core.Bool", "core.Seed",
    "math.Add", "math.Multiply", "math.Expression", "text.Template",
    "image.Load", "image.Save", "image.Solid", "image.Resize", "image.Crop",
    "image.Blur", "image.Blend", "image.Preview",
}

DOUBLE_PACK = '''
from nodes.spec import Input, Output, node

@node("pack.Double", category="pack", description="Twice the number.",
      inputs=[Input("x", "FLOAT", default=1.0)], outputs=[Output("twice", "FLOAT")])
def double(ctx, x):
    return 2 * x
'''


@pytest.fixture(autouse=True)
def forget_imported_packs() -> Iterator[None]:
    """Packs imported by one test must not be found already imported by the next."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("reelgraph_user_nodes", "reelgraph_test_pack")):
            del sys.modules[name]


def write(folder: Path, relative: str, source: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def errors_by_pack(registry: NodeRegistry) -> dict[str, str]:
    return {error.pack: error.message for error in registry.load_errors}


# ----- built-ins ------------------------------------------------------------------------------

def test_every_built_in_node_is_registered(registry: NodeRegistry) -> None:
    assert BUILT_IN_TYPES <= set(registry.type_names())
    assert registry.load_errors == []
    assert all(registry.source_of(name) == "builtin" for name in BUILT_IN_TYPES)


def test_built_in_specs_describe_themselves_for_the_palette(registry: NodeRegistry) -> None:
    described = registry.describe()
    resize = described["image.Resize"]
    assert resize["display_name"] == "Resize" and resize["category"] == "image"
    assert [item["name"] for item in resize["inputs"]] == ["image", "width", "height", "mode", "interpolation"]
    assert resize["inputs"][3]["choices"] == ["stretch", "fit", "fill"]
    assert resize["inputs"][0]["required"] is True and "default" not in resize["inputs"][0]
    assert described["image.Save"]["output_node"] is True
    assert described["core.Seed"]["source"] == "builtin"


def test_registry_lists_types_in_name_order_and_answers_lookups(registry: NodeRegistry) -> None:
    names = [spec.type_name for spec in registry]
    assert names == sorted(names) and len(registry) == len(names)
    assert "math.Add" in registry and "math.Subtract" not in registry
    assert registry.get("math.Subtract") is None
    assert registry["math.Add"].display_name == "Add"


def test_two_registries_do_not_share_user_types() -> None:
    first, second = builtin_registry(), builtin_registry()
    first.register(_make_spec("pack.OnlyHere"))
    assert "pack.OnlyHere" in first and "pack.OnlyHere" not in second


# ----- declaring nodes ----------------------------------------------------------------------------

def _make_spec(type_name: str, **options: object) -> NodeSpec:
    return NodeSpec(type_name, lambda ctx: None, "pack", "A test node.", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("type_name", ["Add", "math.", ".Add", "math.Add!", "math..Add", "9math.Add", ""])
def test_a_badly_named_node_type_is_refused(type_name: str) -> None:
    with pytest.raises(ValueError, match="must look like 'domain.Name'"):
        _make_spec(type_name)


def test_pack_author_mistakes_are_caught_when_the_node_is_declared() -> None:
    with pytest.raises(ValueError, match="two inputs share a name"):
        _make_spec("pack.Twice", inputs=(Input("x", FLOAT), Input("x", INT)))
    with pytest.raises(ValueError, match="two outputs share a name"):
        _make_spec("pack.Twice", outputs=(Output("y", FLOAT), Output("y", INT)))
    with pytest.raises(ValueError, match="default of input 'n' is 20, above the maximum 10"):
        _make_spec("pack.Range", inputs=(Input("n", INT, default=20, min=0, max=10),))
    with pytest.raises(ValueError, match="a GPU node cannot be light"):
        _make_spec("pack.Fast", gpu=True, light=True)


def test_registering_something_that_is_not_a_node_says_how_to_fix_it() -> None:
    registry = NodeRegistry()
    with pytest.raises(TypeError, match=r"decorate it with @node"):
        registry.register(print)


def test_a_type_name_can_only_be_taken_once() -> None:
    registry = builtin_registry()
    with pytest.raises(ValueError, match="'core.Int' is already provided by builtin"):
        registry.register(_make_spec("core.Int"))


def test_the_decorator_leaves_the_function_callable() -> None:
    @node("pack.Negate", category="pack", description="Flips the sign.",
          inputs=[Input("x", FLOAT)], outputs=[Output("y", FLOAT)])
    def negate(ctx: object, x: float) -> float:
        return -x

    assert negate(None, 2.0) == -2.0
    assert negate.spec.display_name == "Negate"  # type: ignore[attr-defined]


# ----- the user's nodes folder -------------------------------------------------------------------

def test_user_folder_loads_a_file_and_a_package(tmp_path: Path) -> None:
    single = write(tmp_path, "double.py", DOUBLE_PACK)
    write(tmp_path, "geometry/__init__.py", "from .shapes import area\n")
    write(tmp_path, "geometry/shapes.py", '''
        from nodes.spec import Input, Output, node

        @node("geometry.Area", category="geometry", description="Width times height.",
              inputs=[Input("width", "INT", default=2), Input("height", "INT", default=3)],
              outputs=[Output("area", "INT")])
        def area(ctx, width, height):
            return width * height
    ''')
    registry = builtin_registry()
    registry.load_folder(tmp_path)
    assert registry.load_errors == []
    assert {"pack.Double", "geometry.Area"} <= set(registry.type_names())
    assert registry.source_of("pack.Double") == str(single)
    assert registry.source_of("geometry.Area") == str(tmp_path / "geometry")


def test_a_user_node_runs_like_a_built_in_one(tmp_path: Path) -> None:
    write(tmp_path, "double.py", DOUBLE_PACK)
    registry = builtin_registry()
    registry.load_folder(tmp_path)
    graph = Graph()
    number = graph.add("core.Float", {"value": 2.5})
    doubled = graph.add("pack.Double", {"x": (number, "value")})
    with Executor(registry, output_dir=tmp_path / "output") as executor:
        assert executor.run(graph).output(doubled) == 5.0


def test_a_pack_with_a_register_function_adds_its_own_nodes(tmp_path: Path) -> None:
    write(tmp_path, "registering.py", '''
        from nodes.spec import Output, node

        @node("pack.Answer", category="pack", description="The answer.", outputs=[Output("n", "INT")])
        def answer(ctx):
            return 42

        def register(registry):
            registry.register(answer, "registering pack")
            registry.register(answer.spec, "registering pack")  # the same spec twice is harmless
    ''')
    registry = builtin_registry()
    registry.load_folder(tmp_path)
    assert registry.load_errors == []
    assert "pack.Answer" in registry


BROKEN_PACKS = {
    "syntax_error.py": ("def broken(:\n    pass\n", "syntax error in"),
    "needs_missing.py": ("import reelgraph_no_such_package_xyz\n",
                         "it needs the Python package 'reelgraph_no_such_package_xyz', which is not installed"),
    "raises.py": ("raise RuntimeError('the GPU is on fire')\n", "RuntimeError: the GPU is on fire"),
    "exits.py": ("import sys\nsys.exit(3)\n", "it tried to exit the program while loading"),
    "empty.py": ("SETTING = 1\n", "the pack defines no nodes"),
}


def test_broken_packs_are_reported_and_skipped_while_good_packs_load(tmp_path: Path) -> None:
    for name, (source, _) in BROKEN_PACKS.items():
        write(tmp_path, name, source)
    write(tmp_path, "double.py", DOUBLE_PACK)
    write(tmp_path, "copycat.py", '''
        from nodes.spec import Output, node

        @node("core.Int", category="core", description="Pretends to be built in.", outputs=[Output("v", "INT")])
        def impostor(ctx):
            return 0

        @node("copycat.Own", category="copycat", description="Its own node.", outputs=[Output("v", "INT")])
        def own(ctx):
            return 1
    ''')
    registry = builtin_registry()
    registry.load_folder(tmp_path)
    errors = errors_by_pack(registry)
    for name, (_, words) in BROKEN_PACKS.items():
        assert words in errors[str(tmp_path / name)], errors
    assert "syntax_error.py line 1" in errors[str(tmp_path / "syntax_error.py")]
    assert "'core.Int' is already provided by builtin" in errors[str(tmp_path / "copycat.py")]
    assert "pack.Double" in registry and "copycat.Own" in registry
    assert registry.source_of("core.Int") == "builtin"
    assert len(errors) == len(BROKEN_PACKS) + 1
    assert str(registry.load_errors[0]).startswith("node pack ")


def test_hidden_private_and_non_python_entries_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "_private.py", "raise RuntimeError('must not be imported')\n")
    write(tmp_path, ".hidden.py", "raise RuntimeError('must not be imported')\n")
    write(tmp_path, "notes.txt", "raise RuntimeError('must not be imported')\n")
    write(tmp_path, "no_init/module.py", "raise RuntimeError('must not be imported')\n")
    registry = builtin_registry()
    registry.load_folder(tmp_path)
    assert registry.load_errors == [] and len(registry) == len(builtin_registry())


def test_a_missing_nodes_folder_is_simply_empty(tmp_path: Path) -> None:
    registry = builtin_registry()
    registry.load_folder(tmp_path / "never-created")
    assert registry.load_errors == []


def test_the_default_registry_includes_the_users_nodes_folder(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "double.py", DOUBLE_PACK)
    write(tmp_path, "raises.py", "raise RuntimeError('broken')\n")
    monkeypatch.setenv("REELGRAPH_NODES", str(tmp_path))
    monkeypatch.setattr(nodes.registry, "_default", None)
    registry = default_registry()
    assert default_registry() is registry
    assert "pack.Double" in registry and "image.Save" in registry
    assert list(errors_by_pack(registry)) == [str(tmp_path / "raises.py")]


# ----- packs installed with pip (entry points) -------------------------------------------------

ENTRY_POINTS = """\
[reelgraph.nodes]
whole_module = reelgraph_test_pack_module
register_function = reelgraph_test_pack_functions:register
node_list = reelgraph_test_pack_functions:NODES
one_node = reelgraph_test_pack_functions:cube
broken = reelgraph_test_pack_broken
not_installed = reelgraph_test_pack_absent
not_nodes = reelgraph_test_pack_functions:SETTING

[console_scripts]
unrelated = reelgraph_test_pack_module:main
"""


@pytest.fixture
def installed_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ``*.dist-info`` on ``sys.path``, as pip would leave it."""
    site = tmp_path / "site-packages"
    write(site, "reelgraph_test_packs-1.0.dist-info/METADATA",
          "Metadata-Version: 2.1\nName: reelgraph-test-packs\nVersion: 1.0\n")
    write(site, "reelgraph_test_packs-1.0.dist-info/entry_points.txt", ENTRY_POINTS)
    write(site, "reelgraph_test_pack_module.py", DOUBLE_PACK)
    write(site, "reelgraph_test_pack_functions.py", '''
        from nodes.spec import Input, Output, node

        def _power(name, exponent):
            @node(f"powers.{name}", category="powers", description=f"x to the power {exponent}.",
                  inputs=[Input("x", "FLOAT", default=2.0)], outputs=[Output("y", "FLOAT")])
            def power(ctx, x):
                return x ** exponent
            return power

        square = _power("Square", 2)
        cube = _power("Cube", 3)
        NODES = [_power("Fourth", 4), _power("Fifth", 5)]
        SETTING = 7

        def register(registry):
            registry.register(square, "powers")
    ''')
    write(site, "reelgraph_test_pack_broken.py", "raise ImportError('compiled for another Python')\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_entry_point_packs_load_in_every_supported_form(installed_packs: Path) -> None:
    registry = builtin_registry()
    registry.load_entry_points()
    loaded = {"pack.Double", "powers.Square", "powers.Cube", "powers.Fourth", "powers.Fifth"}
    assert loaded <= set(registry.type_names())
    assert registry.source_of("pack.Double") == "whole_module (reelgraph_test_pack_module)"
    assert registry.source_of("powers.Fourth") == "node_list (reelgraph_test_pack_functions:NODES)"


def test_broken_entry_point_packs_are_reported_and_skipped(installed_packs: Path) -> None:
    registry = builtin_registry()
    registry.load_entry_points()
    errors = errors_by_pack(registry)
    assert set(errors) == {
        "broken (reelgraph_test_pack_broken)",
        "not_installed (reelgraph_test_pack_absent)",
        "not_nodes (reelgraph_test_pack_functions:SETTING)",
    }
    assert errors["broken (reelgraph_test_pack_broken)"] == "ImportError: compiled for another Python"
    missing = errors["not_installed (reelgraph_test_pack_absent)"]
    assert "needs the Python package 'reelgraph_test_pack_absent', which is not installed" in missing
    assert errors["not_nodes (reelgraph_test_pack_functions:SETTING)"] == "the entry point gave int, not nodes"


def test_an_entry_point_node_runs_through_the_executor(installed_packs: Path, tmp_path: Path) -> None:
    registry = builtin_registry()
    registry.load_entry_points()
    graph = Graph()
    cube = graph.add("powers.Cube", {"x": 3})
    with Executor(registry, output_dir=tmp_path / "output") as executor:
        assert executor.run(graph).output(cube) == 27


def test_no_entry_points_means_no_errors() -> None:
    registry = builtin_registry()
    registry.load_entry_points(group="reelgraph.nodes.nobody-uses-this")
    assert registry.load_errors == [] and len(registry) == len(builtin_registry())
