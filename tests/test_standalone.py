"""A chapter opened on its own, as in Colab: no repository, no nnlib, no OpenCL, no CUDA.

The environment is a fresh virtual environment that sees this project's installed packages except
nnlib itself and the OpenCL and CUDA packages, much like Colab's CPU runtime. Each chapter is
copied alone into an empty folder and run top to bottom in a kernel of that environment; the
first chapter's install cell has to install nnlib from the wheel it carries, or nothing after it
runs.
"""

import io
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from install_cell import build_wheel, cell_source, install_cell, wheel_in, wheel_name  # noqa: E402

CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
# what Colab's CPU runtime lacks: nnlib itself, OpenCL and CUDA
HIDDEN = ("nnlib", "__editable__", "pyopencl", "pyclblast", "pocl", "cupy")


def test_every_chapter_carries_the_current_wheel():
    fresh = zipfile.ZipFile(io.BytesIO(build_wheel()))
    for path in CHAPTERS:
        notebook = nbformat.read(path, as_version=4)
        cell = install_cell(notebook)
        assert cell is not None, f"{path.name} has no install cell: run make export"
        first_code = next(c for c in notebook.cells if c.cell_type == "code")
        assert first_code is cell, f"{path.name}: the install cell must be the first code cell"
        assert "remove-cell" in cell.metadata.get("tags", [])
        carried = zipfile.ZipFile(io.BytesIO(wheel_in(cell.source)))
        assert carried.namelist() == fresh.namelist(), (
            f"{path.name}: nnlib's files changed: run make export")
        for name in fresh.namelist():
            assert carried.read(name) == fresh.read(name), (
                f"{path.name}: {name} is stale: run make export")
        # the rest of the cell is the current template too
        assert cell.source.split('"""')[0] == cell_source(b"", wheel_name()).split('"""')[0]


def _colab_like_environment(tmp_path):
    """A virtual environment with this project's packages but those HIDDEN; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=300)
    python = tmp_path / "venv" / "bin" / "python"
    ours = Path(sysconfig.get_paths()["purelib"])
    visible = tmp_path / "packages"
    visible.mkdir()
    for entry in ours.iterdir():
        if not entry.name.lower().startswith(HIDDEN) and entry.suffix != ".pth":
            (visible / entry.name).symlink_to(entry)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    theirs = subprocess.run([str(python), "-c", purelib],
                            capture_output=True, text=True, check=True).stdout.strip()
    (Path(theirs) / "project-packages.pth").write_text(f"{visible}\n")
    return python


def _kernel(tmp_path, python):
    """A Jupyter kernel spec, in a folder of its own, that runs ``python``; its name."""
    spec = tmp_path / "jupyter" / "kernels" / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    return "colab-like"


def test_each_chapter_runs_alone_where_nnlib_is_not_installed(tmp_path, monkeypatch):
    python = _colab_like_environment(tmp_path)
    probe = "import importlib.util as u; print(u.find_spec('nnlib'), u.find_spec('pyopencl'))"
    found = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert found.stdout.split() == ["None", "None"], found

    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")   # every dependency must already be there: no downloads
    monkeypatch.delenv("PYTHONPATH", raising=False)
    kernel = _kernel(tmp_path, python)
    for index, path in enumerate(CHAPTERS):
        alone = tmp_path / path.stem
        alone.mkdir()
        shutil.copy(path, alone)
        notebook = nbformat.read(alone / path.name, as_version=4)
        NotebookClient(notebook, timeout=300, kernel_name=kernel,
                       resources={"metadata": {"path": str(alone)}}).execute()
        installed = install_cell(notebook).outputs
        if index == 0:
            assert any("installing nnlib" in out.get("text", "") for out in installed), installed
        else:
            assert installed == [], f"{path.name} installed nnlib again"

    check = ("import nnlib; print(nnlib.__file__); "
             "print(nnlib.available_engines()['opencl_float'])")
    where, opencl = subprocess.run([str(python), "-c", check], cwd=tmp_path, capture_output=True,
                                   text=True, check=True).stdout.splitlines()
    # the wheel's nnlib, not the repository's
    assert where.startswith(str(tmp_path / "venv")), where
    assert "pyopencl is not installed" in opencl   # and OpenCL really was out of reach
