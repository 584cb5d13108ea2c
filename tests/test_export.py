"""nnlib's exported modules are exactly what the notebooks export today."""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from export import MARK, export, generated_modules  # noqa: E402


def test_nnlib_matches_a_fresh_export_of_the_notebooks(tmp_path):
    shutil.copytree(ROOT / "book", tmp_path / "book")
    (tmp_path / "nnlib").mkdir()
    fresh = export(tmp_path / "book", tmp_path / "nnlib")
    committed = generated_modules(ROOT / "nnlib")
    assert [p.name for p in fresh] == [p.name for p in committed], (
        "a module was added or removed: run make export")
    for new, old in zip(fresh, committed):
        assert new.read_text() == old.read_text(), (
            f"nnlib/{old.name} differs from the notebooks: run make export")


def test_every_exported_module_names_its_notebook():
    for module in generated_modules(ROOT / "nnlib"):
        text = module.read_text()
        assert text.startswith(MARK) and "File to edit: ../book/" in text.splitlines()[0]


def test_the_draft_training_layer_is_not_exported():
    layers = (ROOT / "nnlib" / "layers.py").read_text()
    assert layers.count("class FullyConnectedTraining") == 1
    assert "if not self.first" in layers
