"""Give every chapter a first code cell that installs ``nnlib`` where it is missing.

A chapter opened on its own (uploaded to Colab, say, or downloaded from the rendered book) has no
repository beside it, so ``import nnlib`` would fail. The install cell carries the whole package as
a wheel, built here from ``nnlib/`` and ``pyproject.toml``, base64-encoded inside the cell. Where
``nnlib`` is already importable (the repository's own environment, and so the tests), the cell does
nothing; elsewhere it installs the wheel with pip, together with what the chapters import.

The wheel is written by hand rather than by a build backend so that it is the same bytes on every
machine: fixed timestamps and permissions, files in sorted order.

    python tools/install_cell.py      # rebuild the wheel and refresh the cell in book/*.ipynb
"""

import base64
import hashlib
import io
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CELL_ID = "install-nnlib"
TITLE = "#@title Install nnlib if it is missing"   # Colab shows this title and folds the code away
EXTRA = "book"   # the optional dependencies that the chapters import besides nnlib's own
_DATE = (1980, 1, 1, 0, 0, 0)   # the earliest date a zip file can hold


def _metadata(project):
    """The METADATA file of the wheel, from pyproject.toml's [project] table."""
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project['description']}", f"Requires-Python: {project['requires-python']}"]
    lines += [f"Requires-Dist: {dependency}" for dependency in project["dependencies"]]
    for extra, dependencies in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {dependency}; extra == "{extra}"' for dependency in dependencies]
    return "\n".join(lines) + "\n"


def _digest(data):
    """A file's hash as a wheel's RECORD writes it: sha256, urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _project(root):
    """The [project] table of ``root``'s pyproject.toml."""
    return tomllib.loads((Path(root) / "pyproject.toml").read_text())["project"]


def wheel_name(root=ROOT):
    project = _project(root)
    return f"{project['name']}-{project['version']}-py3-none-any.whl"


def build_wheel(root=ROOT):
    """The wheel of ``root``'s nnlib package, as bytes; the same bytes for the same sources."""
    root, project = Path(root), _project(root)
    info = f"{project['name']}-{project['version']}.dist-info"
    files = {path.relative_to(root).as_posix(): path.read_bytes()
             for path in sorted((root / "nnlib").rglob("*.py"))}
    files[f"{info}/METADATA"] = _metadata(project).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: nnlib-book tools/install_cell.py\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=_DATE)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data, compresslevel=9)
    return buffer.getvalue()


def cell_source(wheel, name):
    """The source of the install cell that carries ``wheel`` (bytes) as the file ``name``."""
    encoded = base64.encodebytes(wheel).decode()   # lines of 76 characters
    return f'''{TITLE}
# Opened on its own (in Colab, say), a chapter has no nnlib to import. This cell carries the whole
# package as a wheel, built from the book's sources, and installs it with pip. Where nnlib is
# already installed, as in the repository's own environment, it does nothing.
def install_nnlib(wheel_base64):
    import base64, importlib, importlib.util, pathlib, subprocess, sys, tempfile
    if importlib.util.find_spec("nnlib") is not None:
        return
    wheel = pathlib.Path(tempfile.mkdtemp()) / "{name}"
    wheel.write_bytes(base64.b64decode(wheel_base64))
    print("installing", wheel.name, "and what the chapters import besides (numpy, matplotlib, ...)")
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + [f"{{wheel}}[{EXTRA}]"], check=True)
    importlib.invalidate_caches()


install_nnlib("""
{encoded}""")
del install_nnlib'''


def wheel_in(source):
    """The wheel (bytes) that an install cell's ``source`` carries."""
    return base64.b64decode(source.split('"""')[1])


def install_cell(notebook):
    """The install cell of ``notebook`` (a NotebookNode), or None."""
    return next((cell for cell in notebook.cells if cell.get("id") == CELL_ID), None)


def refresh(book=ROOT / "book", root=ROOT):
    """Put the current install cell in each chapter, after its title; return those changed."""
    source = cell_source(build_wheel(root), wheel_name(root))
    changed = []
    for path in sorted(Path(book).glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cell = install_cell(notebook)
        if cell is None:
            cell = nbformat.v4.new_code_cell(id=CELL_ID)
            notebook.cells.insert(1, cell)
        elif cell.source == source:
            continue
        cell.source = source
        cell.outputs, cell.execution_count = [], None
        # hidden in the rendered book, folded in Jupyter, shown as a titled form in Colab
        cell.metadata = {"tags": ["remove-cell"], "jupyter": {"source_hidden": True},
                         "cellView": "form"}
        nbformat.write(notebook, path)
        changed.append(path)
    return changed


if __name__ == "__main__":
    for path in refresh(*sys.argv[1:]):
        print("refreshed the install cell of", path)
