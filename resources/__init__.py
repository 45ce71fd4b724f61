"""Package data shipped with Reelgraph: example workflows (and later the theme and icons)."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def example_workflow(name: str) -> Path:
    """The path of a shipped example workflow, e.g. ``example_workflow("hello")``."""
    return FOLDER / "workflows" / f"{name}.json"


def example_project(name: str = "example") -> Path:
    """The path of a shipped example episode project, e.g. ``example_project()``."""
    return FOLDER / "projects" / f"{name}.json"
