"""The classroom edition (tools/classroom.py) and its grader (tools/grader.py, tools/judges/).

Two class runs, each graded at once with JOBS=2 as a teacher's would be:

- the *red team* (tests/redteam/): honest submissions of chapter 2 beside one submission per
  attack, each attack in the answer cell of ``row_sums``, plus malformed files, a link to the
  master and a notebook that is no chapter. Every attack scores zero, the honest ones full marks,
  every file outside the sandbox stays as it was, and the run finishes with a complete table;
- the *student edition* of every chapter, each with one plausible wrong answer planted: every
  question scores zero, and the wrong one says what is wrong.

That every master scores full marks is tested where each chapter runs alone, without the
sandbox, in tests/test_standalone.py. The sandbox itself is tested in tests/test_sandbox.py.
"""

import contextlib
import csv
import hashlib
import io
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import classroom  # noqa: E402
import grader  # noqa: E402
import judges  # noqa: E402
import sandbox  # noqa: E402

CHAPTERS = classroom.graded_chapters()
REDTEAM = ROOT / "tests" / "redteam"
ATTACKS = sorted(REDTEAM.glob("*.py"))
# where an attack stops the notebook, the fault it must be reported with
FAULTS = {"os_exit": "kernel died", "kill_the_parent": "kernel died",
          "output_flood": "more than the output limit", "sleep": "did not stop when interrupted",
          "patched_builtins": "stopped", "patched_print": "stopped", "settrace": "stopped"}
# files that are not notebooks, each named like chapter 2 so that only its content is at fault
MALFORMED = {"02_engines-empty.ipynb": b"", "02_engines-text.ipynb": b"{not json",
             "02_engines-list.ipynb": b"[]", "02_engines-binary.ipynb": bytes(range(256)),
             "02_engines-schema.ipynb": b'{"cells": 5, "metadata": {}, "nbformat": 4, '
                                        b'"nbformat_minor": 5}'}
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
    "06_benchmark.ipynb": ("ex-ch6-batch", '''
batch_sizes = [8, 32, 125, 500, 2000]
batch_seconds = [0.002, 0.004, 0.01, 0.03, 0.1]
batch_rates = [epoch_flops(SMALL[0], SMALL[1], 2000) / s / 1e9 for s in batch_seconds]
''', "every rate uses the FLOPs of a batch of 2000"),
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
    "11_digits.ipynb": ("ex-ch11-steps", '''
batches_per_epoch = 1347 // 10
examples_per_epoch = 10 * batches_per_epoch
''', "rounding 1347 / 10 down"),
    "12_inside_the_engine.ipynb": ("ex-ch12-tile", '''
def tiled_kernel(tile):
    return replace(TILED, source=TILED.source.replace("#define TILE 16", f"#define TILE {tile}"))
''', "the work-group must match the tile"),
}
@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("classroom")
    classroom.build(out)
    return out


def with_answer(notebook, label, source):
    """A copy of ``notebook`` whose answer (and solution) cells of ``label`` hold ``source``."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        if (classroom.question(cell) == label and cell.cell_type == "code"
                and classroom.role(cell) in ("answer", "solution")):
            cell.source = source.strip()
    return notebook


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def redteam(sandboxed, edition, tmp_path_factory):
    """The red team's class, graded once: (results by name, printed lines, table rows, class,
    the digests of every file before and after)."""
    top = tmp_path_factory.mktemp("redteam")
    group = top / "class"
    master = nbformat.read(ROOT / "book" / "02_engines.ipynb", as_version=4)
    student = nbformat.read(edition / "student" / "02_engines.ipynb", as_version=4)
    for folder in ("honest", "colab", "moved", "eve", "malformed"):
        (group / folder).mkdir(parents=True)
    shutil.copy(ROOT / "book" / "02_engines.ipynb", group / "honest")
    shutil.copy(ROOT / "book" / "02_engines.ipynb",
                group / "colab" / "Copy of 02_engines (1).ipynb")
    moved = student   # the book's answers, in answer cells moved below their checks
    for label in ("ex-ch2-bias", "ex-ch2-gemv"):
        solution = next(c.source for c in master.cells if classroom.question(c) == label
                        and classroom.role(c) == "solution")
        moved = with_answer(moved, label, solution)
        cells = moved.cells
        answer = next(i for i, c in enumerate(cells) if classroom.question(c) == label
                      and classroom.role(c) == "answer")
        check = max(i for i, c in enumerate(cells) if classroom.question(c) == label
                    and classroom.role(c) == "check")
        cells.insert(check, cells.pop(answer))
    nbformat.write(moved, group / "moved" / "02_engines.ipynb")
    for attack in ATTACKS:
        (group / attack.stem).mkdir()
        nbformat.write(with_answer(student, "ex-ch2-gemv", attack.read_text()),
                       group / attack.stem / "02_engines.ipynb")
    for name, content in MALFORMED.items():
        (group / "malformed" / name).write_bytes(content)
    (group / "eve" / "02_engines.ipynb").symlink_to(ROOT / "book" / "02_engines.ipynb")
    (group / "eve" / "notes.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, '
                                               '"nbformat_minor": 5}')
    autograder = top / "autograder"
    shutil.copytree(edition / "autograder", autograder)
    table = top / "grades.csv"
    table.write_text("a table left from last year's class\n")
    before = digest(top) | digest(ROOT / "book")
    limits = sandbox.Limits(cell_seconds=4, interrupt_seconds=2, wall_seconds=60,
                            memory_bytes=2 * 2**30)
    with terminal(top / "terminal") as printed:   # what would reach the teacher's terminal
        results = grader.grade_class(group, autograder, table, jobs=2, limits=limits)
    after = digest(top) | digest(ROOT / "book")
    rows = list(csv.reader(table.open()))
    return ({r.name: r for r in results}, printed.read_text().splitlines(), rows, group,
            (before, after))


@contextlib.contextmanager
def terminal(path):
    """File descriptors 1 and 2 (and sys.stdout, sys.stderr) sent to ``path``, as a terminal
    would get them: what this process and every process it starts write there."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    open(path, "wb").close()
    with open(path, "ab") as sink:   # every writer appends
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
    try:
        with open(path, "a") as text, contextlib.redirect_stdout(text), \
                contextlib.redirect_stderr(text):
            yield Path(path)
    finally:
        sys.stdout.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def test_every_attack_scores_zero(redteam):
    results = redteam[0]
    for attack in ATTACKS:
        result = results[f"{attack.stem}/02_engines.ipynb"]
        assert result.chapter == "02_engines" and result.possible == 2, result
        assert result.score == 0, (attack.stem, result.questions)
        if attack.stem in FAULTS:
            assert FAULTS[attack.stem] in result.fault, (attack.stem, result.fault)


def test_messages_give_away_no_inputs_or_answers(redteam):
    """What a judge says of a wrong answer names the mistake, never the expected numbers: no
    number with decimals (the random inputs' entries and their sums have them) in any message
    of the red team's, whose wrong vectors and hard-coded sums are judged on fresh inputs."""
    for result in redteam[0].values():
        for label, (points, _, message) in result.questions.items():
            judged = not message.startswith(("the answer raised", "not reached", "not graded"))
            if points == 0 and judged:
                assert not re.search(r"\d\.\d", message), (result.name, label, message)


def test_honest_students_score_full_marks_beside_the_attacks(redteam):
    results = redteam[0]
    for name in ("honest/02_engines.ipynb", "colab/Copy of 02_engines (1).ipynb",
                 "moved/02_engines.ipynb"):   # Colab's renamed copy; answers below their checks
        assert results[name].score == 2 and results[name].fault is None, results[name]


def test_no_file_outside_the_sandbox_changes(redteam):
    """Every notebook, the autograder and the links are as they were; only the table and the
    written answers are the grader's to write."""
    before, after = redteam[4]
    changed = {p for p in before if before[p] != after.get(p)}
    assert {p.name for p in changed} == {"grades.csv"}, changed


def test_the_report_and_table_come_from_the_grader_alone(redteam):
    results, printed, rows, _, _ = redteam
    # no line printed by a submission reaches the report: one score line per graded notebook
    scores = [line for line in printed if line.startswith("score: ")]
    assert len(scores) == sum(r.chapter is not None for r in results.values())
    assert scores.count("score: 2/2") == 3
    passed = [line for line in printed if "passed" in line]
    assert len(passed) == 6 and all(re.fullmatch(r"  ex-ch2-\w+ +1/1  passed", line)
                                    for line in passed), passed
    assert rows[0] == ["notebook", "question", "points", "possible", "note"]
    assert rows[-1] == ["(run)", "status", "", "", f"complete: {len(results)} notebooks"]
    totals = {row[0]: row[2] for row in rows if row[1] == "total"}
    assert totals["honest/02_engines.ipynb"] == "2"
    assert {v for k, v in totals.items() if k.split("/")[0] not in ("honest", "colab", "moved")
            } == {"0"}


def test_bad_files_are_named_with_their_fault(redteam):
    results = redteam[0]
    for name in MALFORMED:
        result = results[f"malformed/{name}"]
        assert result.fault.startswith("not a notebook"), (name, result.fault)
        assert result.score == 0 and result.possible == 2
    assert "symbolic link" in results["eve/02_engines.ipynb"].fault
    assert "not a chapter" in results["eve/notes.ipynb"].fault


def test_an_interrupted_run_is_marked_in_the_table(edition, tmp_path):
    """A run that stops (here: the teacher's Ctrl-C after the first notebook) replaces last
    year's table at once and leaves it marked as interrupted, never complete."""
    for student in ("ann", "ben"):   # empty files: graded at once, without a kernel
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "01_introduction.ipynb").write_text("")
    table = tmp_path / "grades.csv"
    table.write_text("last year's\n")

    def interrupt(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grader.grade_class(tmp_path / "class", edition / "autograder", table, jobs=1,
                           out=interrupt)
    rows = list(csv.reader(table.open()))
    assert rows[-1][:2] == ["(run)", "status"] and rows[-1][4].startswith("interrupted: 1 of 2")


# ---- the student edition ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def students(sandboxed, edition, tmp_path_factory):
    """The student edition of every chapter, each with its wrong answer planted, graded once."""
    group = tmp_path_factory.mktemp("students")
    for path in CHAPTERS:
        notebook = nbformat.read(edition / "student" / path.name, as_version=4)
        if path.name in WRONG:
            label, wrong, _ = WRONG[path.name]
            notebook = with_answer(notebook, label, wrong)
        nbformat.write(notebook, group / path.name)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = grader.grade_class(group, edition / "autograder", group / "grades.csv", jobs=2)
    return {r.name: r for r in results}, group


def test_the_student_edition_scores_zero_and_wrong_answers_say_why(students):
    results, _ = students
    assert set(results) == {path.name for path in CHAPTERS} == set(WRONG)
    for path in CHAPTERS:
        result = results[path.name]
        assert result.fault is None and result.possible >= 1, result
        assert result.score == 0, result.questions
        if path.name in WRONG:
            label, _, words = WRONG[path.name]
            assert words in result.questions[label][2], result.questions[label]


def test_written_answers_reach_the_teacher(students, edition):
    """Every chapter's written answers are collected, blank here, into its page, with the
    exercise and the book's solution; they are listed in the table and count for nothing."""
    results, group = students
    rows = list(csv.reader((group / "grades.csv").open()))
    assert ["04_training.ipynb", "ex-ch4-order", "blank", "", ""] in rows
    page = (group / "written" / group.name / "10_initialization.md").read_text()
    spec = classroom.load_autograder("10_initialization", edition / "autograder")["written"]
    for label, entry in spec.items():
        assert f"## {label}" in page and entry["exercise"] in page and entry["solution"] in page
    assert "*(left blank)*" in page


def test_a_written_answer_is_read_from_the_notebook(edition):
    notebook = nbformat.read(edition / "student" / "10_initialization.ipynb", as_version=4)
    written = [c for c in notebook.cells if classroom.is_written(c)]
    assert written and all(c.source == classroom.WRITTEN_PLACEHOLDER for c in written)
    written[0].source = "Only the output bias: every hidden signal is tanh(0) = 0."
    answers = classroom.written_answers(notebook, "10_initialization", edition / "autograder")
    first = classroom.question(written[0])
    assert answers[first] == written[0].source
    assert all(a is None for q, a in answers.items() if q != first)
    report = classroom.written_report("x.ipynb", "10_initialization", edition / "autograder",
                                      answers)
    assert written[0].source in report and "*(left blank)*" in report


# ---- the edition, and the exercises' cells ----------------------------------------------------

def test_every_chapter_has_graded_exercises_with_a_judge():
    assert CHAPTERS == sorted(ROOT.glob("book/[0-9][0-9]_*.ipynb"))
    judged = judges.load()
    for path in CHAPTERS:
        labels = classroom.questions(nbformat.read(path, as_version=4))
        assert labels and labels == [q.label for q in judged[path.stem]], path.name


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
        assert "solution" not in roles
        assert roles.count("check") == [classroom.role(c) for c in master.cells].count("check")
        for cell in master.cells:
            if classroom.role(cell) == "solution":
                assert cell.source not in text, f"{path.name}: a solution leaked"
        assert (edition / "autograder" / (path.stem + ".json")).exists()


def test_every_question_has_answer_solution_and_check():
    """Graded questions have all three parts, in order; written answers are hidden in the book."""
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
            order = [r for r in ("answer", "solution", "check") if r in roles]
            assert order == ["answer", "solution", "check"] and set(roles) == set(order), (
                path.name, name, roles)


def test_observations_go_after_the_answer_and_its_check():
    """After the last of a question's answer and check cells, wherever the student moved them,
    or at the end where the notebook has neither."""
    master = nbformat.read(ROOT / "book" / "02_engines.ipynb", as_version=4)
    entries = judges.load()["02_engines"]
    cells = master.cells
    places = grader.place(cells, entries)
    for entry in entries:
        mine = [i for i, c in enumerate(cells) if classroom.question(c) == entry.label]
        assert places[entry.label] == max(i for i in mine
                                          if classroom.role(cells[i]) in ("answer", "check"))
    bare = [c for c in cells if classroom.question(c) != "ex-ch2-bias"]
    assert grader.place(bare, entries)["ex-ch2-bias"] == len(bare)


# ---- the command line, and GitHub Classroom ---------------------------------------------------

def test_grading_refuses_without_the_sandbox(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(SystemExit, match=r"(?s)bwrap\) is not installed.*--unsafe"):
        classroom.main(["grade", str(tmp_path), "--autograder", str(tmp_path)])


def test_the_student_edition_carries_a_github_classroom_workflow(edition):
    """The workflow grades with the same command line, and hands the results to GitHub
    Classroom's reporter under the runner's name."""
    text = (edition / "student" / ".github" / "workflows" / "classroom.yml").read_text()
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    run = next(step for step in steps if step.get("id") == "nnlib")["run"].replace("\\\n", " ")
    line = next(line for line in run.splitlines() if "tools/classroom.py" in line)
    args = classroom.arguments().parse_args(shlex.split(line.split("tools/classroom.py")[1]))
    assert args.command == "grade" and args.github_classroom and args.jobs == 2
    report = next(step for step in steps if "grading-reporter" in step.get("uses", ""))
    assert report["with"]["runners"] == "nnlib"
    assert report["env"]["NNLIB_RESULTS"] == "${{ steps.nnlib.outputs.result }}"


def test_github_classroom_gets_one_test_per_question(redteam):
    results = list(redteam[0].values())
    payload = grader.github_classroom(results)
    graded = [r for r in results if r.chapter is not None]
    assert payload["max_score"] == sum(r.possible for r in graded)
    questions = [t for t in payload["tests"] if ": ex-" in t["name"]]
    assert len(questions) == sum(len(r.questions) for r in graded)
    assert sum(t["score"] for t in payload["tests"]) == sum(r.score for r in graded)
    assert {t["status"] for t in payload["tests"]} == {"pass", "fail", "error"}
    assert payload["status"] == "fail"
