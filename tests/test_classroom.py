"""The classroom edition (tools/classroom.py): the student edition, its checks and its grading.

For every chapter: the untouched student edition scores zero, and a submission with one plausible
wrong answer loses exactly that question, with the check's message saying what is wrong (that
every master scores full marks is tested in tests/test_standalone.py, where each chapter runs
alone). Every exercise has an answer cell; written answers reach the teacher's report with the
exercise and the book's solution.
"""

import contextlib
import csv
import io
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import classroom  # noqa: E402

CHAPTERS = classroom.graded_chapters()
# one plausible wrong answer per chapter: (question, wrong answer cell, words of the message)
WRONG = {
    "01_introduction.ipynb": ("ex-ch1-count", '''
def parameter_count(sizes):
    return sum(n_out * n_in for n_in, n_out in zip(sizes, sizes[1:]))
''', "every neuron has a bias too"),
    "02_engines.ipynb": ("ex-ch2-bias", '''
def subtract_bias(eng, a, bias):
    ones = eng.fill(eng.zeros((a.shape[1],)), 1.0)
    eng.ger(1.0, bias, ones, a)
    return a
''', "sign"),
    "03_inference.ipynb": ("ex-ch3-buffers", "scratch_numbers = 350_000", "one buffer per layer"),
    "04_training.ipynb": ("ex-ch4-memory", '''
def memory_gb(sizes, n):
    pairs = list(zip(sizes, sizes[1:]))
    training = sum(2 * out * n + out * inp for inp, out in pairs)
    weights = sum(out * inp + out for inp, out in pairs)
    return (training + weights) * 4 / 1e9
''', "input batch"),
    "05_sgd.ipynb": ("ex-ch5-eta", '''
def cost_after(eta, epochs=200):
    x, y = eng.matrix([[0.3, 0.3], [0.9, 0.9]]), eng.matrix([[0.5, 0.5]])
    with article_network(eng) as net, nn.training_network(net, x) as training:
        for layer in training.layers:
            layer.bias_sign = -1.0
        return sgd(training, y, quadratic_cost, epochs, eta)
''', "article's bias step"),
    "07_synchronization.ipynb": ("ex-ch7-every", '''
def sgd_every(network, y, cost, epochs, eta, every):
    eng = network.eng
    for epoch in range(epochs):
        network.forward()
        cost.derivative(eng, y, network.output)
        network.backward(eta)
        if epoch % every == 0:
            eng.synchronize()
    return cost.value(eng, network.output)
''', "number the epochs from 1"),
    "08_schedule.ipynb": ("ex-ch8-threshold", '''
def first_epoch_below(history, threshold):
    return next(i for i, cost in enumerate(history) if cost < threshold)


def fall_per_epoch(history, epochs):
    return (history[0] / history[epochs]) ** (1 / epochs)
''', "count from 1"),
    "09_gradient_check.ipynb": ("ex-ch9-order", '''
def late_derivative(training):
    pass   # step (2) left where it was
''', "still right"),
    "10_initialization.ipynb": ("ex-ch10-zero", '''
zero = glorot(deep_network(eng), seed=0)
with nn.training_network(zero, eng.matrix(x_train)) as training:
    nn.sgd(training, eng.matrix(y_train), nn.quadratic_cost, 200, 0.5)
''', "start without glorot"),
    "12_inside_the_engine.ipynb": ("ex-ch12-tile", '''
def tiled_kernel(tile):
    return replace(TILED, source=TILED.source.replace("#define TILE 16", f"#define TILE {tile}"))
''', "the work-group must match the tile"),
    # chapters 6 and 11 take 13 to 14 s a run: to keep the suite's time down, their wrong answers
    # (e.g. the FLOPs of one batch size for every rate in ex-ch6-batch, training accuracy for
    # ex-ch11-width) were graded by hand when the questions were written, each losing exactly
    # its question
}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("classroom")
    classroom.build(out)
    return out


@pytest.fixture(scope="module")
def student_grading(edition):
    """``make grade`` on the untouched student edition, run once: (rows, printed lines, table)."""
    table, printed = edition / "grades.csv", io.StringIO()
    with contextlib.redirect_stdout(printed):
        rows = classroom.grade(edition / "student", edition / "autograder", table)
    return rows, printed.getvalue().splitlines(), table


def test_every_chapter_has_graded_exercises():
    assert CHAPTERS == sorted(ROOT.glob("book/[0-9][0-9]_*.ipynb"))
    assert {p.name for p in CHAPTERS} >= set(WRONG)


def test_the_teachers_page_counts_each_chapters_questions():
    text = (ROOT / "book" / "teachers.md").read_text()
    rows = re.findall(r"^\| (\d+) [^|]+\|[^|]+\| (\d+) \| (\d+) \|", text, re.M)
    table = {int(chapter): (int(graded), int(written)) for chapter, graded, written in rows}
    counted = {}
    for path in CHAPTERS:
        notebook = nbformat.read(path, as_version=4)
        counted[int(path.name[:2])] = (len(classroom.questions(notebook)),
                                       len(classroom.written_questions(notebook)))
    assert table == counted
    totals = [sum(column) for column in zip(*counted.values())]
    assert f"The {totals[0]} graded questions and {totals[1]} written answers" in text


def test_every_exercise_has_an_answer_cell():
    """In the student edition, every exercise is followed by a cell to answer it in."""
    for path in CHAPTERS:
        notebook = nbformat.read(path, as_version=4)
        labels = set(classroom.exercises(notebook))
        answered = {classroom.question(c) for c in notebook.cells if classroom.role(c) == "answer"}
        assert labels and labels <= answered, (path.name, labels - answered)


def test_student_edition_has_no_solutions(edition):
    for path in CHAPTERS:
        student = nbformat.read(edition / "student" / path.name, as_version=4)
        master = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in student.cells)
        assert "solution-start" not in text and "{solution}" not in text
        roles = [classroom.role(c) for c in student.cells]
        assert "solution" not in roles and "hidden" not in roles
        assert roles.count("check") == [classroom.role(c) for c in master.cells].count("check")
        for cell in master.cells:
            if classroom.role(cell) == "solution":
                assert cell.source not in text, f"{path.name}: a solution leaked"
        assert (edition / "autograder" / (path.stem + ".json")).exists()


def test_every_question_has_answer_solution_check_and_hidden_test():
    """Graded questions have all four parts, in order; written answers are hidden in the book."""
    for path in CHAPTERS:
        cells = nbformat.read(path, as_version=4).cells
        for cell in cells:
            if classroom.is_written(cell):
                assert "remove-cell" in cell.metadata.get("tags", []), (path.name, cell.source)
                assert cell.source == classroom.WRITTEN_PLACEHOLDER, (path.name, cell.source)
        code = [c for c in cells if classroom.role(c) and not classroom.is_written(c)]
        names = {classroom.question(c) for c in code if classroom.role(c) != "answer"}
        assert {classroom.question(c) for c in code} == names, f"{path.name}: an answer unchecked"
        for name in names:
            roles = [classroom.role(c) for c in code if classroom.question(c) == name]
            order = [r for r in ("answer", "solution", "check", "hidden") if r in roles]
            assert order == ["answer", "solution", "check", "hidden"], (path.name, name, roles)
            hidden = [c for c in cells if classroom.question(c) == name
                      and classroom.role(c) == "hidden"]
            assert all("remove-cell" in c.metadata.get("tags", []) for c in hidden)


def test_the_autograders_tests_run_where_the_checks_stand():
    """In a master, the autograder's tests replace the checks and hidden tests one for one. In a
    submission whose student deleted a check and rewrote another, ours run all the same: after
    the answer where the check is gone, in place of the rewritten one."""
    master = nbformat.read(ROOT / "book" / "02_engines.ipynb", as_version=4)
    tests = classroom.questions(master)
    cells, owners = classroom._with_tests(master.cells, tests)
    assert [(c.source, c.metadata.get("tags")) for c in cells] == [
        (c.source, c.metadata.get("tags")) for c in master.cells]
    submission = classroom.student_edition(master).cells
    submission = [c for c in submission
                  if (classroom.question(c), classroom.role(c)) != ("ex-ch2-bias", "check")]
    for cell in submission:
        if classroom.role(cell) == "check":
            cell.source = "print('all good')"
    cells, owners = classroom._with_tests(submission, tests)
    assert "print('all good')" not in [c.source for c in cells]
    for name, entry in tests.items():
        ours = [c.source for c, owner in zip(cells, owners) if owner == name]
        assert ours == entry["check"] + entry["hidden"]
    answer = next(i for i, c in enumerate(cells) if classroom.question(c) == "ex-ch2-bias")
    assert owners[answer + 1:answer + 3] == ["ex-ch2-bias"] * 2
    rewritten = next(i for i, c in enumerate(submission) if classroom.role(c) == "check")
    assert owners[rewritten + 2:rewritten + 4] == ["ex-ch2-gemv"] * 2   # two bias tests before


def test_grading(edition, student_grading, tmp_path):
    """The student edition scores zero, and one wrong answer loses exactly its question (and
    nothing else: the rest of the submission is the master's). That every master scores full
    marks is tested where each chapter runs alone, in tests/test_standalone.py."""
    autograder = edition / "autograder"
    students = {name: result for name, result, _, _, _ in student_grading[0]}
    assert set(students) == {path.name for path in CHAPTERS}
    for path in CHAPTERS:
        student = students[path.name]
        assert all(points == 0 for points, _, _ in student.values()), student
        if path.name not in WRONG:
            continue
        name, wrong, words = WRONG[path.name]
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if (classroom.question(cell) == name and cell.cell_type == "code"
                    and classroom.role(cell) in ("answer", "solution")):
                cell.source = wrong.strip()
        submission = tmp_path / path.name
        nbformat.write(notebook, submission)
        result = classroom.grade_notebook(submission, autograder)
        assert [q for q, (p, _, _) in result.items() if p == 0] == [name], result
        assert words in result[name][2], result[name]


def test_written_answers_reach_the_teacher(edition, tmp_path):
    """A written answer, with its exercise and the book's solution, goes to the report; a blank
    one is reported as blank; neither counts in the score."""
    autograder = edition / "autograder"
    path = edition / "student" / "10_initialization.ipynb"
    notebook = nbformat.read(path, as_version=4)
    written = [c for c in notebook.cells if classroom.is_written(c)]
    assert written and all(c.source == classroom.WRITTEN_PLACEHOLDER for c in written)
    written[0].source = "Only the output bias: every hidden signal is tanh(0) = 0."
    submission = tmp_path / path.name
    nbformat.write(notebook, submission)
    answers = classroom.written_answers(submission, autograder)
    first = classroom.question(written[0])
    assert answers[first] == written[0].source
    assert all(a is None for q, a in answers.items() if q != first)
    report = classroom.written_report(submission, autograder)
    spec = classroom.load_autograder(submission, autograder)["written"][first]
    assert spec["exercise"] and spec["solution"], spec
    for text in (written[0].source, spec["exercise"], spec["solution"], "*(left blank)*"):
        assert text in report


def test_grade_prints_a_score_line_per_notebook(student_grading):
    rows, out, table = student_grading
    assert out[-1] == f"score: 0/{rows[-1][3]}"
    assert sum(line.startswith("score: ") for line in out) == len(CHAPTERS)
    table_rows = list(csv.reader(table.open()))
    assert table_rows[0] == ["notebook", "question", "points", "possible"]
    assert ["04_training.ipynb", "ex-ch4-order", "blank", ""] in table_rows
    written = (table.parent / "written" / "student").glob("*.md")
    assert {p.stem for p in written} == {r[0][:-6] for r in table_rows if r[2] == "blank"}


def test_a_class_is_graded_folder_by_folder(edition, tmp_path):
    """One folder per student: every notebook in them is graded and named by its path."""
    (tmp_path / "class" / "alice").mkdir(parents=True)
    (tmp_path / "class" / "bob" / ".ipynb_checkpoints").mkdir(parents=True)
    name = "01_introduction.ipynb"
    shutil.copy(ROOT / "book" / name, tmp_path / "class" / "alice")
    for folder in ("bob", "bob/.ipynb_checkpoints"):
        shutil.copy(edition / "student" / name, tmp_path / "class" / folder)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rows = classroom.grade(tmp_path / "class", edition / "autograder", tmp_path / "g.csv")
    assert [(row[0], row[2], row[3]) for row in rows] == [(f"alice/{name}", 2, 2),
                                                         (f"bob/{name}", 0, 2)]
    out = printed.getvalue().splitlines()
    assert out[0] == f"alice/{name}" and out[-1] == "score: 0/2"
    assert [f"bob/{name}", "total", "0", "2"] in list(csv.reader((tmp_path / "g.csv").open()))
