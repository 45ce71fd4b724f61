"""The registry of node types: the built-in library, packs installed through the
``reelgraph.nodes`` entry-point group, and files in the user's nodes folder.

A broken pack is recorded in ``load_errors`` (and the log) and skipped; it never
stops Reelgraph from starting.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import types
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from nodes.spec import NodeSpec

log = logging.getLogger("reelgraph.nodes")

ENTRY_POINT_GROUP = "reelgraph.nodes"
BUILTIN_MODULES = (
    "nodes.library.core",
    "nodes.library.math",
    "nodes.library.text",
    "nodes.library.image",
    "nodes.library.model",
    "nodes.library.diffusion",
    "nodes.library.video",
    "nodes.library.video_files",
    "nodes.library.audio",
    "nodes.library.video_editing",
    "nodes.library.video_checks",
    "nodes.library.speech",
    "nodes.library.live",
)


@dataclass(frozen=True)
class PackError:
    """A node pack that could not be loaded, and why, in words."""

    pack: str
    message: str

    def __str__(self) -> str:
        return f"node pack {self.pack!r} was skipped: {self.message}"


class NodeRegistry:
    """Node types by name. Thread-safe to read; registration happens at start-up."""

    def __init__(self) -> None:
        self._specs: dict[str, NodeSpec] = {}
        self._sources: dict[str, str] = {}
        self.load_errors: list[PackError] = []
        self._lock = threading.Lock()

    # ----- reading -----------------------------------------------------------------
    def get(self, type_name: str) -> NodeSpec | None:
        return self._specs.get(type_name)

    def __getitem__(self, type_name: str) -> NodeSpec:
        return self._specs[type_name]

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda spec: spec.type_name))

    def __len__(self) -> int:
        return len(self._specs)

    def type_names(self) -> list[str]:
        return sorted(self._specs)

    def source_of(self, type_name: str) -> str:
        """Which pack provided a type ("builtin", an entry point, a file)."""
        return self._sources.get(type_name, "")

    def describe(self) -> dict[str, dict[str, Any]]:
        """Every type as ``reelgraph nodes --json`` prints it."""
        result = {}
        for spec in self:
            entry = spec.to_json()
            entry["source"] = self._sources[spec.type_name]
            result[spec.type_name] = entry
        return result

    # ----- registering ---------------------------------------------------------------
    def register(self, item: NodeSpec | Callable[..., Any], source: str = "code") -> NodeSpec:
        """Add one node type; a name already taken by another pack is an error."""
        spec = item if isinstance(item, NodeSpec) else getattr(item, "spec", None)
        if not isinstance(spec, NodeSpec):
            raise TypeError(f"{item!r} is not a node: decorate it with @node(...)")
        with self._lock:
            existing = self._specs.get(spec.type_name)
            if existing is not None and existing is not spec:
                raise ValueError(
                    f"node type {spec.type_name!r} is already provided by {self._sources[spec.type_name]}"
                )
            self._specs[spec.type_name] = spec
            self._sources[spec.type_name] = source
        return spec

    def register_module(self, module: types.ModuleType, source: str) -> list[NodeSpec]:
        """Register every ``@node`` function found at the top level of ``module``."""
        found = [value for value in vars(module).values() if isinstance(getattr(value, "spec", None), NodeSpec)]
        return self.register_all(found, source)

    def register_all(self, items: Iterable[Any], source: str) -> list[NodeSpec]:
        registered = []
        for item in items:
            try:
                registered.append(self.register(item, source))
            except (TypeError, ValueError) as error:
                self._report(source, str(error))
        return registered

    # ----- loading packs -------------------------------------------------------------
    def load_builtin(self) -> None:
        for name in BUILTIN_MODULES:
            self.register_module(importlib.import_module(name), "builtin")

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load installed packs. An entry point names a module, a ``register(registry)``
        function, or a list of node functions."""
        for point in entry_points(group=group):
            source = f"{point.name} ({point.value})"
            try:
                loaded = point.load()
                self._register_loaded(loaded, source)
            except (Exception, SystemExit) as error:  # a broken pack must not stop start-up
                self._report(source, _error_words(error), error)

    def load_folder(self, folder: Path) -> None:
        """Load each ``name.py`` and each ``name/__init__.py`` in the user's nodes folder."""
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.name.startswith((".", "_")):
                continue
            if path.is_dir() and (path / "__init__.py").is_file():
                entry = path / "__init__.py"
            elif path.suffix == ".py" and path.is_file():
                entry = path
            else:
                continue
            source = str(path)
            try:
                module = _import_file(path.stem if path.is_file() else path.name, entry)
                self._register_loaded(module, source)
            except (Exception, SystemExit) as error:
                self._report(source, _error_words(error), error)

    def _register_loaded(self, loaded: Any, source: str) -> None:
        if isinstance(loaded, types.ModuleType):
            found = self.register_module(loaded, source)
            if self._has_register_function(loaded):
                loaded.register(self)
            elif not found:
                self._report(source, "the pack defines no nodes (no @node functions found)")
        elif isinstance(loaded, (list, tuple)):
            self.register_all(loaded, source)
        elif isinstance(getattr(loaded, "spec", None), NodeSpec):
            self.register(loaded, source)
        elif callable(loaded):
            loaded(self)
        else:
            self._report(source, f"the entry point gave {type(loaded).__name__}, not nodes")

    @staticmethod
    def _has_register_function(module: types.ModuleType) -> bool:
        return callable(getattr(module, "register", None)) and not hasattr(module.register, "spec")

    def _report(self, source: str, message: str, error: BaseException | None = None) -> None:
        problem = PackError(source, message)
        self.load_errors.append(problem)
        log.warning("%s", problem, exc_info=error)


def _import_file(name: str, path: Path) -> types.ModuleType:
    module_name = f"reelgraph_user_nodes.{name}"
    spec = importlib.util.spec_from_file_location(
        module_name, path, submodule_search_locations=[str(path.parent)] if path.name == "__init__.py" else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _error_words(error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        return f"syntax error in {error.filename} line {error.lineno}: {error.msg}"
    if isinstance(error, ModuleNotFoundError):
        return f"it needs the Python package {error.name!r}, which is not installed"
    if isinstance(error, SystemExit):
        return "it tried to exit the program while loading"
    return f"{type(error).__name__}: {error}"


_default: NodeRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> NodeRegistry:
    """The process-wide registry: built-ins, installed packs, the user's nodes folder."""
    global _default
    with _default_lock:
        if _default is None:
            from nodes.user_folders import user_nodes_folder

            registry = NodeRegistry()
            registry.load_builtin()
            registry.load_entry_points()
            registry.load_folder(user_nodes_folder())
            _default = registry
        return _default


def builtin_registry() -> NodeRegistry:
    """Only the built-in library (tests and benchmarks that must not see user packs)."""
    registry = NodeRegistry()
    registry.load_builtin()
    return registry
