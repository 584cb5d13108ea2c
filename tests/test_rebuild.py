"""The rebuild-nnlib track (tools/rebuild.py): the book's chapters score full marks, the untouched
stubs score zero, and each of the article's two bugs, planted into a correct chapter 5, fails the
one check named after what it breaks. The edition hands out no answer: no worked solution, no
finished body of an exercise in its notebooks or in the package its install cell
carries. And the red team: a package that prints PASS lines, re-exports the finished package or
exits at import scores nothing, and the run still ends with a line per check.

One edition is built per test session; a grade takes about a second (an export into a temporary
folder, and one run of the observer in the sandbox)."""

import ast
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import install_cell  # noqa: E402
import rebuild  # noqa: E402
import rebuild_checks  # noqa: E402


@pytest.fixture(scope="session")
def edition(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rebuild")
    rebuild.build(folder)
    return folder


def grade(chapter, submission, unsafe=False):
    lines = []
    passed, total, results = rebuild.grade(chapter, submission, out=lines.append, unsafe=unsafe)
    assert lines[-1] == f"score: {passed}/{total}"
    assert len(lines) == total + 2   # the chapters used, a line per check, the score
    return passed, total, results, lines


@pytest.mark.parametrize("chapter", [3, 5, 9])
def test_the_books_chapters_score_full_marks(sandboxed, chapter):
    passed, total, _, _ = grade(chapter, ROOT / "book")
    assert total >= 3 and passed == total


@pytest.mark.parametrize("chapter", sorted(rebuild.STUBS))
def test_the_untouched_stubs_score_zero_and_the_repository_stays(sandboxed, edition, chapter):
    before = {p: p.read_text() for p in (ROOT / "nnlib").glob("*.py")}
    passed, total, results, lines = grade(chapter, edition)
    assert total >= 3 and passed == 0, results
    assert all("not written yet (chapter exercise: " in line for line in lines[1:-1]), lines
    assert {p: p.read_text() for p in (ROOT / "nnlib").glob("*.py")} == before


def test_the_edition_keeps_signatures_docstrings_and_checks(edition):
    source = "".join(
        "".join(cell["source"])
        for cell in json.loads((edition / "03_inference.ipynb").read_text())["cells"])
    assert "def __call__(self, x, out=None):" in source
    assert '"""The network\'s output for the batch' in source
    assert "batch, out = self._check_call(x, out)" in source   # the argument check stays
    assert "eng.ger(-1.0, self.bias, ones, a)" not in source   # the answer does not
    assert "def _check_batch(eng, x, rows" in source           # helpers stay whole


# ---- the edition hands out no answers -------------------------------------------------------

def _lines(text):
    """``text`` as its non-blank lines, stripped: the same code at any indentation."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def finished_bodies():
    """{exercise: the book's body of it, as _lines}, from the masters' exported cells."""
    bodies = {}
    for chapter, hints in rebuild.STUBS.items():
        for cell in nbformat.read(rebuild.chapter_file(ROOT / "book", chapter), 4).cells:
            if cell.cell_type == "code" and cell.source.startswith(rebuild.EXPORT_MARK):
                lines = cell.source.splitlines()
                for name, function in rebuild._functions(ast.parse(cell.source)).items():
                    if name in hints:
                        body = [s for s in function.body if not rebuild._is_check(s)
                                and not (isinstance(s, ast.Expr) and isinstance(s.value,
                                                                                ast.Constant))]
                        text = "\n".join(lines[body[0].lineno - 1:body[-1].end_lineno])
                        bodies[name] = _lines(text)
    assert len(bodies) == sum(len(hints) for hints in rebuild.STUBS.values())
    return bodies


def edition_files(edition):
    """{where: text} of every file of the edition, and of every file in each install cell's
    wheel, unzipped."""
    files = {}
    for path in sorted(edition.iterdir()):
        if path.suffix != ".ipynb":
            files[path.name] = path.read_text()
            continue
        notebook = nbformat.read(path, as_version=4)
        files[path.name] = "\n".join(cell.source for cell in notebook.cells)
        wheel = zipfile.ZipFile(io.BytesIO(install_cell.wheel_in(
            install_cell.install_cell(notebook).source)))
        for name in wheel.namelist():
            files[f"{path.name}, wheel: {name}"] = wheel.read(name).decode()
    return files


# chapter 4 shows the article's first draft of the training layer (not exported, with its bug in
# backward): its forward is the finished one, as chapter 5 says
SHOWN_AS_THE_DRAFT = {"FullyConnectedTraining.forward": {"04_training.ipynb"}}


def test_the_edition_hands_out_no_answers(edition):
    files = edition_files(edition)
    assert sum(", wheel: nnlib/" in where for where in files) >= 15
    masters = [nbformat.read(rebuild.chapter_file(ROOT / "book", chapter), 4)
               for chapter in rebuild.STUBS]
    solutions = [_lines(cell.source) for master in masters for cell in master.cells
                 if cell.metadata.get("classroom", {}).get("role") == "solution"]
    assert len(solutions) >= 8
    normalized = {where: _lines(text) for where, text in files.items()}
    for where, text in normalized.items():
        assert "{solution" not in text, f"a worked solution in {where}"
        leaked = [source.splitlines()[0] for source in solutions if source in text]
        assert not leaked, f"{where} holds the worked solution {leaked}"
    for name, body in finished_bodies().items():
        holding = {where for where, text in normalized.items() if body in text}
        assert holding <= SHOWN_AS_THE_DRAFT.get(name, set()), f"{name}'s body is in {holding}"
    for where, text in files.items():   # and the wheel's exercises are stubs, as the chapters'
        if where.endswith((".py",)) and "nnlib/" in where:
            for name, function in rebuild._functions(ast.parse(text)).items():
                if any(name in hints for hints in rebuild.STUBS.values()):
                    assert isinstance(function.body[-1], ast.Raise), f"{where}: {name}"


def test_the_editions_package_runs_the_students_code_of_earlier_chapters(edition, tmp_path):
    # the book's own code in the edition's chapters 3 and 4, beside chapter 5; the package is
    # the edition's wheel, unzipped: use_your_code puts chapters 3 and 4 into it, as chapter 5's
    # cell after the install cell does
    for chapter in (3, 4):
        book = nbformat.read(rebuild.chapter_file(ROOT / "book", chapter), 4)
        (tmp_path / rebuild.chapter_file(ROOT / "book", chapter).name).write_text(
            nbformat.writes(book))
    notebook = nbformat.read(edition / "05_sgd.ipynb", as_version=4)
    zipfile.ZipFile(io.BytesIO(install_cell.wheel_in(
        install_cell.install_cell(notebook).source))).extractall(tmp_path / "wheel")
    helper = next(c.source for c in notebook.cells if c.source.startswith(rebuild.USE_TITLE))
    script = helper + """
import nnlib as nn
eng = nn.native_double()
net = nn.inference_network(eng, 2, [nn.fully_connected(3, nn.tanh),
                                    nn.fully_connected(1, nn.sigmoid)])
x = eng.matrix([[0.3, 0.3], [0.9, 0.9]])
print(eng.to_numpy(net(x)).shape)
try:
    nn.training_network(net, x).forward()
except NotImplementedError as stub:
    print("stub:", stub)
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path / "wheel"),
                                  PYTHONIOENCODING="utf-8"),
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "nnlib runs your FullyConnectedInference.__call__, InferenceNetwork.__call__, from " \
           "03_inference.ipynb" in run.stdout
    assert "(1, 2)" in run.stdout                      # chapter 3's code, in nnlib
    assert "stub: chapter exercise: z = W input" in run.stdout   # chapter 5's layer: still to write


# ---- the article's bugs ---------------------------------------------------------------------

def plant(folder, pattern, replacement):
    """A copy of the book's chapter 5 with one bug planted by ``re.subn`` (exactly one match)."""
    notebook = json.loads((ROOT / "book" / "05_sgd.ipynb").read_text())
    count = 0
    for cell in notebook["cells"]:
        source, found = re.subn(pattern, replacement, "".join(cell["source"]))
        cell["source"], count = source.splitlines(keepends=True), count + found
    assert count == 1, f"{pattern!r} matched {count} times"
    folder.mkdir()   # holds chapter 5 only: chapters 3 and 4 come from the book
    (folder / "05_sgd.ipynb").write_text(json.dumps(notebook, indent=1, ensure_ascii=False))
    return folder


def only_failure(results):
    failed = [name for name, ok in results.items() if not ok]
    assert len(failed) == 1, failed
    return failed[0]


def test_the_first_layer_writing_into_the_data_fails_its_named_check(sandboxed, tmp_path):
    # the draft's bug: without `if not self.first:` the first layer overwrites the training data
    folder = plant(tmp_path / "data", r"\n( +)if not self\.first:[^\n]*\n +", r"\n\1")
    _, _, results, lines = grade(5, folder)
    assert only_failure(results) == "the training data must not change during training"
    assert "3 from the book, 4 from the book, 5 submitted" in lines[0]
    assert any("the first layer wrote into its input" in line for line in lines)


def test_the_article_bias_sign_fails_its_named_check(sandboxed, tmp_path):
    folder = plant(tmp_path / "sign", r"-self\.bias_sign \* eta_avg",
                   "self.bias_sign * eta_avg")
    _, _, results, lines = grade(5, folder)
    assert only_failure(results) == ("the bias moves against its gradient "
                                     "(gradient check on the bias)")
    assert any("moved along its gradient, not against it" in line for line in lines)


# ---- the red team ---------------------------------------------------------------------------

def submit(folder, edition, chapter, module, code):
    """The edition's ``chapter`` (stubs untouched) with one more exported cell, ``code``, in
    ``module``, alone in ``folder``: the chapters before it come from the book."""
    path = rebuild.chapter_file(edition, chapter)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f"#| export {module}\n{code}"))
    folder.mkdir()
    nbformat.write(notebook, folder / path.name)
    return folder


def test_printing_pass_lines_at_exit_scores_nothing(sandboxed, edition, tmp_path):
    claims = "\n".join(f"PASS {name}" for name in rebuild_checks.names(5)) + "\nscore: 5/5"
    folder = submit(tmp_path / "atexit", edition, 5, "layers", f"""
import atexit, os, sys

def _claim_full_marks():
    print({claims!r}, flush=True)
    print({claims!r}, file=sys.stderr, flush=True)
    os.write(1, {claims!r}.encode() + b"\\n")

atexit.register(_claim_full_marks)
_claim_full_marks()
""")
    passed, total, results, lines = grade(5, folder)
    assert passed == 0 and total == 5, results
    assert all(line.startswith("FAIL ") for line in lines[1:-1]), lines


REPOSITORYS_NETWORK = f"""
import importlib.util
_spec = importlib.util.spec_from_file_location("nnlib._finished", {str(ROOT / "nnlib")!r}
                                               + "/network.py")
"""
INSTALLED_NETWORK = """
import importlib.machinery, os, sys
_spec = next(spec for finder in sys.meta_path if finder is not importlib.machinery.PathFinder
             and hasattr(finder, "find_spec") for spec in [finder.find_spec("nnlib", None)]
             if spec is not None)   # the book's nnlib, installed (editable: the repository's)
_spec = importlib.util.spec_from_file_location(
    "nnlib._finished", os.path.join(os.path.dirname(_spec.origin), "network.py"))
"""
REEXPORT = """
_finished = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_finished)
TrainingNetwork.forward = _finished.TrainingNetwork.forward
TrainingNetwork.backward = _finished.TrainingNetwork.backward
"""


@pytest.mark.parametrize("found", [REPOSITORYS_NETWORK, INSTALLED_NETWORK],
                         ids=["by-path", "installed"])
def test_reexporting_the_finished_package_scores_nothing(sandboxed, edition, tmp_path, found):
    folder = submit(tmp_path / "reexport", edition, 4, "network", found + REEXPORT)
    if found is REPOSITORYS_NETWORK:   # the attack works where the package is not sandboxed
        assert grade(4, folder, unsafe=True)[:2] == (3, 3)
    passed, total, results, lines = grade(4, folder)
    assert passed == 0 and total == 3, results
    assert all("not run (the package did not import: " in line for line in lines[1:-1]), lines


@pytest.mark.parametrize("code, said", [
    ("raise SystemExit(0)", "not run (the package did not import: raised SystemExit: 0)"),
    ("import os\nos._exit(0)", "not run (no result came back from the package: its process "
                               "ended (status 0) before it reported)"),
], ids=["SystemExit", "os._exit"])
def test_exiting_at_import_fails_every_check_and_the_run_ends(sandboxed, edition, tmp_path,
                                                              code, said):
    folder = submit(tmp_path / "exits", edition, 3, "layers", code)
    passed, total, results, lines = grade(3, folder)
    assert passed == 0 and total == 5
    assert lines[1:-1] == [f"FAIL {name}: {said}" for name in rebuild_checks.names(3)]


def test_grading_refuses_without_the_sandbox_unless_unsafe(monkeypatch, tmp_path):
    monkeypatch.setattr(rebuild, "_sandbox_problem", lambda: "bwrap is not installed")
    with pytest.raises(rebuild.SandboxUnavailable, match="bwrap is not installed"):
        rebuild.grade(3, ROOT / "book", out=lambda line: None)
    with pytest.raises(SystemExit, match="bwrap is not installed.*--unsafe"):
        rebuild.main(["grade", "3", "--submission", str(ROOT / "book")])


def test_one_result_must_come_back_behind_the_key():
    key, record = "k" * 32, json.dumps({"package": None, "results": []})
    read = lambda text: rebuild.read_record(io.BytesIO(text.encode()), key)  # noqa: E731
    assert read(f"PASS a\n{key} {record}\nscore: 9/9\n")["results"] == []
    for text, why in [("PASS a\n", "none"), (f"printed {key} {record}\n", "none"),
                      (f"{key} {record}\n{key} {record}\n", "2 results came back for one run"),
                      (f"{key} {{not json\n", "a malformed result")]:
        with pytest.raises(ValueError, match=re.escape(why)):
            read(text)


def test_only_plain_export_cells_of_the_books_modules_are_exported(tmp_path):
    # nbdev writes a module to the path its directive names: "..evil" would be /evil.py
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        "#| export ..evil\nA = 1", "#| export layers\n#| export ..evil\n\nB = 2",
        "#| export not_a_module\nC = 3", "D = 4")]
    nbformat.write(notebook, tmp_path / "03_inference.ipynb")
    clean = rebuild.exported_cells(tmp_path / "03_inference.ipynb", {"layers"})
    assert [cell.source for cell in clean.cells] == ["#| export layers\nB = 2"]
    (tmp_path / "05_sgd.ipynb").write_text("{not a notebook")
    with pytest.raises(ValueError, match="05_sgd.ipynb is not a notebook"):
        rebuild.exported_cells(tmp_path / "05_sgd.ipynb", {"layers"})
