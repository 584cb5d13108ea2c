"""A chapter opened on its own, as in Colab: no repository, no nnlib, no OpenCL, no CUDA.

The environment is a fresh virtual environment that sees this project's installed packages except
nnlib itself and the OpenCL and CUDA packages, much like Colab's CPU runtime. Each chapter is
copied alone into an empty folder and run top to bottom in a kernel of that environment; the
first chapter's install cell has to install nnlib from the wheel it carries, or nothing after it
runs.

The run is also the classroom grader's run of the book itself (tools/grader.py, without its
sandbox, since the first chapter must install nnlib): each chapter runs with the grader's
observations of its questions, and must score full marks here, where OpenCL is out of reach and
OpenBLAS has one thread.

The same run is the book's second BLAS configuration. nbval checks the stored outputs with
OpenBLAS's default thread count; here OpenBLAS gets one thread, which changes how float32 products
round, and every output is compared with the stored one as nbval compares them. So a stored output
that holds on one core count only fails here.
"""

import concurrent.futures
import copy
import io
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
from nbval.plugin import coalesce_streams

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import grader  # noqa: E402
import sandbox  # noqa: E402
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


# what nbval leaves out of a comparison: images, and the fields that differ on every run
NOT_COMPARED = {"image/png", "image/jpeg", "metadata", "traceback", "execution_count",
                "output_type", "name", "transient"}
IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip"}
IGNORE_MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP")


def _sanitizers():
    """The regex substitutions of tests/nbval_sanitize.cfg, which nbval applies too."""
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    return re.findall(r"^regex: (.*)\nreplace: (.*)$", text, re.M)


def _comparable(outputs, sanitizers):
    """The outputs as nbval compares them: streams merged, then each field sanitized."""
    fields = []
    for output in coalesce_streams(copy.deepcopy(outputs)):
        items = dict(output.get("data", {}), **{k: v for k, v in output.items() if k != "data"})
        for key in sorted(items):
            if key not in NOT_COMPARED:
                value = items[key]
                for regex, replace in sanitizers:
                    value = re.sub(regex, replace, value) if isinstance(value, str) else value
                fields.append((key, value))
    return fields


def output_mismatches(stored, executed, skip=()):
    """The code cells of ``executed`` whose outputs differ from ``stored``'s as nbval sees them,
    as ``(cell index, stored, executed)``; cells nbval is told to ignore, and ``skip``, are left
    out."""
    sanitizers, mismatches = _sanitizers(), []
    for index, (old, new) in enumerate(zip(stored.cells, executed.cells)):
        if old.cell_type != "code" or index in skip:
            continue
        tags = set(old.metadata.get("tags", []))
        if tags & IGNORE_TAGS or any(marker in old.source for marker in IGNORE_MARKERS):
            continue
        before, after = _comparable(old.outputs, sanitizers), _comparable(new.outputs, sanitizers)
        if before != after:
            mismatches.append((index, before, after))
    return mismatches


def test_output_comparison_sees_what_nbval_sees():
    def notebook(text, tags=(), image="iVBOR1"):
        cell = nbformat.v4.new_code_cell("print(x)", metadata={"tags": list(tags)})
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text),
                        nbformat.v4.new_output("display_data", data={"image/png": image,
                                                                     "text/plain": "<Figure>"})]
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x"), cell])

    assert output_mismatches(notebook("7.7\n"), notebook("7.7\n", image="other")) == []
    assert output_mismatches(notebook("at 0x7f3a2b1c\n"), notebook("at 0x55d0e1f2\n")) == []
    [(index, stored, executed)] = output_mismatches(notebook("7.8\n"), notebook("7.7\n"))
    assert index == 1 and ("text", "7.8\n") in stored and ("text", "7.7\n") in executed
    assert output_mismatches(notebook("7.8\n", ["nbval-ignore-output"]), notebook("7.7\n")) == []
    assert output_mismatches(notebook("7.8\n"), notebook("7.7\n"), skip={1}) == []


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
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")   # the second BLAS configuration (see above)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    kernel = _kernel(tmp_path, python)

    def run_alone(path):
        """Grade ``path`` alone in its own folder; the executed notebook's output mismatches."""
        alone = tmp_path / path.stem
        alone.mkdir()
        shutil.copy(path, alone)
        stored = nbformat.read(alone / path.name, as_version=4)
        graded = grader.grade_notebook(alone / path.name, path.stem, unsafe=True,
                                       kernel_name=kernel, limits=sandbox.Limits(cell_seconds=300))
        assert graded.fault is None and graded.score == graded.possible, (path.name, graded)
        notebook = graded.notebook
        installed = install_cell(notebook).outputs
        if path == CHAPTERS[0]:
            assert any("installing nnlib" in out.get("text", "") for out in installed), installed
        else:
            assert installed == [], f"{path.name} installed nnlib again"
        install = stored.cells.index(install_cell(stored))
        return output_mismatches(stored, notebook, skip={install})

    # the first chapter installs nnlib; then two at a time, one BLAS thread each, as the cores
    mismatches = {CHAPTERS[0].name: run_alone(CHAPTERS[0])}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        mismatches.update(zip([p.name for p in CHAPTERS[1:]], pool.map(run_alone, CHAPTERS[1:])))
    assert not any(mismatches.values()), "\n".join(
        f"{name}, cell {index}:\n  stored:   {before}\n  one BLAS thread: {after}"
        for name, found in mismatches.items() for index, before, after in found)

    check = ("import nnlib; print(nnlib.__file__); "
             "print(nnlib.available_engines()['opencl_float'])")
    where, opencl = subprocess.run([str(python), "-c", check], cwd=tmp_path, capture_output=True,
                                   text=True, check=True).stdout.splitlines()
    # the wheel's nnlib, not the repository's
    assert where.startswith(str(tmp_path / "venv")), where
    assert "pyopencl is not installed" in opencl   # and OpenCL really was out of reach
