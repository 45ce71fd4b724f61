"""Every test runs offscreen, on the CPU, with its user data in a temporary folder:
never the developer's own settings, logs or node packs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["REELGRAPH_DEVICES"] = "cpu"
os.environ["REELGRAPH_HOME"] = tempfile.mkdtemp(prefix="reelgraph-test-home-")
os.environ.pop("REELGRAPH_NODES", None)
os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach a model hub
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it (gpu/devices.py)
os.environ.pop("REELGRAPH_MODELS", None)


def pytest_configure(config: pytest.Config) -> None:
    """Import what nodes import lazily before any Qt test runs, as the app does
    (``desktop/preload.py``): a first import on a worker thread next to PySide's event
    processing can crash the process."""
    from desktop.preload import GENERATION_MODULES, PICTURE_MODULES, import_modules

    import_modules((*PICTURE_MODULES, *GENERATION_MODULES, "av", "safetensors", "peft"))


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ComfyUI-layout models folder of tiny random-weight models, built once per session."""
    from fixtures.tiny_models import build_models_folder

    return build_models_folder(tmp_path_factory.mktemp("models"))


@pytest.fixture
def models_folder(models_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Reelgraph at the tiny models folder for one test."""
    monkeypatch.setenv("REELGRAPH_MODELS", str(models_root))
    return models_root


@pytest.fixture(scope="session")
def live_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny few-step models for the live sketch (a checkpoint, a ControlNet, TAESD), built once."""
    from fixtures.tiny_live_models import build_live_models_folder

    return build_live_models_folder(tmp_path_factory.mktemp("live-models"))


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory):
    """One executor for a test file, as the app keeps one open: models stay warm. One torch
    thread: on a shared two-core machine more only wait for each other."""
    import torch

    from gpu.devices import CPU
    from gpu.executor import Executor
    from nodes.registry import builtin_registry

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with Executor(builtin_registry(), devices=[CPU], output_dir=tmp_path_factory.mktemp("out"),
                  previews=False) as running:
        yield running
    torch.set_num_threads(threads)
