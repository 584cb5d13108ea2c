"""The classroom edition: a student edition of the chapters, an autograder, and grading.

A chapter's graded exercise is a group of cells that share a question name (the exercise's label)
in their metadata, ``"classroom": {"question": "ex-ch2-bias", "role": ROLE}``:

- ``answer``: the visible cell the student fills in (a stub in the book). A *code* answer defines
  a name; a *markdown* answer is a written one (prose, or a number read off the student's own
  run, with the reasoning), tagged ``remove-cell`` so that the book does not show the blank;
- ``solution``: the worked solution, inside the exercise's gated solution block
  (``{solution-start}`` ... ``{solution-end}``, collapsed in the book), defining the same name;
- ``check``: the visible check, plain Python, that grades whatever the answer cell defined;
- ``hidden``: the hidden test (tagged ``remove-cell`` in the book), kept out of the student edition.

A question with a check is graded automatically and scores its point when its check and hidden
tests all pass; a question's written answers are collected for the teacher to read, beside the
exercise and the book's worked solution, and are not part of the score.

``build`` writes ``student/`` (every chapter, minus its solution blocks and hidden tests) and
``autograder/`` (per chapter, a JSON file of each question's check and hidden tests, and the
exercise and solution of each written answer). ``grade`` runs each submitted notebook top to
bottom (errors allowed) with the autograder's check and hidden tests in place of the notebook's
own checks, so that each runs where its check stands in the chapter; it writes the written answers
of each notebook to ``written/``. Usage:

    python tools/classroom.py build _build/classroom
    python tools/classroom.py grade SUBMISSIONS [--autograder _build/classroom/autograder]
"""

import argparse
import copy
import csv
import json
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SOLUTION_START = re.compile(r"^```\{solution-start\}", re.M)
SOLUTION_END = re.compile(r"^```\{solution-end\}", re.M)
# a whole ungated solution directive (prose only), removed from the student edition's markdown
SOLUTION_BLOCK = re.compile(r"^```\{solution\}.*?^```[ \t]*\n?", re.M | re.S)
# an exercise directive: its label and its text
EXERCISE = re.compile(r"^```\{exercise\}[^\n]*\n:label: (\S+)\n(.*?)^```", re.M | re.S)
PROSE_SOLUTION = r"^```\{{solution\}} {label}\n(?::[^\n]*\n)*(.*?)^```"
# what a written answer cell holds until the student replaces it
WRITTEN_PLACEHOLDER = "*Your answer: replace this line with yours.*"


def role(cell):
    """The classroom role of a cell (``answer``, ``solution``, ``check``, ``hidden``) or None."""
    return cell.metadata.get("classroom", {}).get("role")


def question(cell):
    return cell.metadata.get("classroom", {}).get("question")


def is_written(cell):
    """True for a written answer: an answer cell in markdown."""
    return role(cell) == "answer" and cell.cell_type == "markdown"


def graded_chapters(book=BOOK):
    """The chapter notebooks that have graded exercises."""
    return [p for p in sorted(book.glob("[0-9][0-9]_*.ipynb"))
            if any(role(c) for c in nbformat.read(p, as_version=4).cells)]


def questions(notebook):
    """{question: {"points": 1, "check": [source], "hidden": [source]}} in the chapter's order,
    for the questions graded automatically (those with a check)."""
    found = {}
    for cell in notebook.cells:
        if role(cell) in ("check", "hidden"):
            entry = found.setdefault(question(cell), {"points": 1, "check": [], "hidden": []})
            entry[role(cell)].append(cell.source)
    return found


def _solution_text(notebook, label):
    """The worked solution of exercise ``label``: its prose directive, or its gated block's
    markdown and code, as Markdown."""
    parts, inside = [], False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            prose = re.search(PROSE_SOLUTION.format(label=re.escape(label)), cell.source,
                              re.M | re.S)
            if prose:
                return prose.group(1).strip()
            start = SOLUTION_START.search(cell.source)
            named = start and re.match(rf"[^\n]*\b{re.escape(label)}\b", cell.source[start.end():])
            if named:
                inside = True
                body = re.sub(r"^```\{solution-start\}[^\n]*\n(?::[^\n]*\n)*```\n?", "",
                              cell.source[start.start():], flags=re.M)
                parts.append(body.strip())
                continue
            if inside and SOLUTION_END.search(cell.source):
                break
        if inside and cell.cell_type == "markdown":
            parts.append(cell.source)
        elif inside:
            parts.append(f"```python\n{cell.source}\n```")
            printed = "".join(out.get("text", "") for out in cell.get("outputs", [])
                              if out.get("output_type") == "stream")
            if printed.strip():   # what the book's run printed, which its prose may quote
                parts.append(f"```text\n{printed.rstrip()}\n```")
    return "\n\n".join(p for p in parts if p)


def exercises(notebook):
    """{label: text} of the chapter's exercises, in order."""
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    return {label: body.strip() for label, body in EXERCISE.findall(text)}


def written_questions(notebook):
    """{question: {"exercise": text, "solution": text}} for the questions with a written answer."""
    found, texts = {}, exercises(notebook)
    for cell in notebook.cells:
        if is_written(cell) and question(cell) not in found:
            label = question(cell)
            if label not in texts:
                raise ValueError(f"a written answer to {label}, which no exercise has as its label")
            found[label] = {"exercise": texts[label], "solution": _solution_text(notebook, label)}
    return found


def student_edition(notebook):
    """A copy of ``notebook`` without its solution blocks and hidden tests, answers not run."""
    notebook = copy.deepcopy(notebook)
    kept, inside = [], False
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and SOLUTION_START.search(cell.source):
            if inside:
                raise ValueError("a solution-start inside another solution block")
            inside = True
            before = cell.source[:SOLUTION_START.search(cell.source).start()]
            if before.strip():   # prose before the block stays
                cell.source = before
                kept.append(cell)
            continue
        if cell.cell_type == "markdown" and SOLUTION_END.search(cell.source):
            if not inside:
                raise ValueError("a solution-end without its solution-start")
            inside = False
            if SOLUTION_END.sub("", cell.source, count=1).strip() != "```":
                raise ValueError("a solution-end cell holds the directive and nothing else")
            continue
        if role(cell) == "solution" and not inside:
            raise ValueError("a solution cell outside its solution block would be shown")
        if inside or role(cell) == "hidden":
            continue
        if cell.cell_type == "markdown":
            cell.source = SOLUTION_BLOCK.sub("", cell.source)
            if not cell.source.strip():   # a cell that held a solution only
                continue
        if cell.cell_type == "code" and role(cell) in ("answer", "check"):
            cell.outputs, cell.execution_count = [], None
        if is_written(cell):   # shown to the student, blank
            cell.source = WRITTEN_PLACEHOLDER
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "remove-cell"]
        kept.append(cell)
    if inside:
        raise ValueError("a solution-start without its solution-end")
    notebook.cells = kept
    return notebook


def build(out, book=BOOK):
    """Write ``out/student/`` and ``out/autograder/``; return the student notebooks' paths."""
    out = Path(out)
    written = []
    for sub in ("student", "autograder"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for path in graded_chapters(book):
        master = nbformat.read(path, as_version=4)
        student = out / "student" / path.name
        nbformat.write(student_edition(master), student)
        written.append(student)
        tests = {"chapter": path.name, "questions": questions(master),
                 "written": written_questions(master)}
        (out / "autograder" / (path.stem + ".json")).write_text(json.dumps(tests, indent=1) + "\n")
    return written


def _with_tests(cells, tests):
    """The submission's cells with its checks and hidden tests replaced by the autograder's.

    Where the submission has a question's check (or hidden) cells, as many as the autograder, ours
    replace them one for one, where they stand: a master notebook keeps its layout. Otherwise the
    checks go where the first check cell stands, else after the last answer cell, else at the end,
    and the hidden tests follow them. Returns (cells, owners), owners[i] naming the question of
    cells[i], or None for the submission's own cells."""
    at = {(name, kind): [i for i, c in enumerate(cells) if question(c) == name and role(c) == kind]
          for name in tests for kind in ("answer", "check", "hidden")}
    slots = {}   # cell index -> [(question, source)], placed after the submission's cell there
    for name, entry in tests.items():
        checks, hidden = at[name, "check"], at[name, "hidden"]
        fallback = checks[:1] or at[name, "answer"][-1:] or [len(cells)]
        if len(checks) != len(entry["check"]):
            checks = fallback * len(entry["check"])
        if len(hidden) != len(entry["hidden"]):
            hidden = (checks[-1:] or fallback) * len(entry["hidden"])
        for i, source in zip(checks + hidden, entry["check"] + entry["hidden"]):
            slots.setdefault(i, []).append((name, source))
    placed, owners = [], []
    for i, cell in enumerate(cells + [None]):
        if cell is not None and role(cell) not in ("check", "hidden"):
            placed.append(cell)
            owners.append(None)
        for name, source in slots.get(i, []):
            placed.append(nbformat.v4.new_code_cell(source, metadata=_test_metadata(cells, i)))
            owners.append(name)
    return placed, owners


def _test_metadata(cells, i):
    """The metadata of the submission's cell that a test replaces (its tags, so that a master's
    layout and nbval's tags survive), or none."""
    if i < len(cells) and role(cells[i]) in ("check", "hidden"):
        return copy.deepcopy(cells[i].metadata)
    return {}


def run_graded(path, autograder, timeout=600, kernel_name="python3", allow_errors=True):
    """Run one submitted notebook with the autograder's tests in place of its own; return
    ({question: (points, possible, message)}, the executed notebook)."""
    path = Path(path)
    tests = load_autograder(path, autograder)["questions"]
    notebook = nbformat.read(path, as_version=4)
    # the submission's own checks and tests are not trusted: ours run in their place
    notebook.cells, owners = _with_tests(notebook.cells, tests)
    client = NotebookClient(notebook, timeout=timeout, allow_errors=allow_errors,
                            kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    failures = {}
    for name, cell in zip(owners, notebook.cells):
        for output in cell.outputs if name else []:
            if output.output_type == "error" and name not in failures:
                failures[name] = f"{output.ename}: {output.evalue}"
    scores = {name: (0 if name in failures else entry["points"], entry["points"],
                     failures.get(name, "passed"))
              for name, entry in tests.items()}
    return scores, notebook


def grade_notebook(path, autograder, timeout=600):
    """{question: (points, possible, message)} for one submitted notebook's automatic questions."""
    return run_graded(path, autograder, timeout)[0]


def load_autograder(path, autograder):
    spec = Path(autograder) / (Path(path).stem + ".json")
    if not spec.exists():
        raise FileNotFoundError(f"{Path(path).name}: no autograder for this chapter ({spec})")
    return json.loads(spec.read_text())


def written_answers(path, autograder):
    """{question: answer} for a submission's written answers (None where left blank)."""
    expected = load_autograder(path, autograder).get("written", {})
    cells = nbformat.read(path, as_version=4).cells
    answers = {}
    for name in expected:
        text = "\n\n".join(c.source.strip() for c in cells
                            if question(c) == name and is_written(c)).strip()
        answers[name] = None if text in ("", WRITTEN_PLACEHOLDER) else text
    return answers


def written_report(path, autograder, answers=None):
    """The written answers of one submission (``written_answers`` unless given) as Markdown:
    exercise, answer, worked solution."""
    spec = load_autograder(path, autograder).get("written", {})
    lines = [f"# Written answers: {Path(path).name}", ""]
    answers = written_answers(path, autograder) if answers is None else answers
    for name, answer in answers.items():
        lines += [f"## {name}", "", "**Exercise.** " + spec[name]["exercise"], "",
                  "**Answer.**", "", answer or "*(left blank)*", "",
                  "**The book's solution.** " + spec[name]["solution"], ""]
    return "\n".join(lines)


def submitted_notebooks(submissions):
    """The notebooks in ``submissions`` and its folders (one folder per student, say), in order,
    without Jupyter's checkpoints."""
    return sorted(path for path in Path(submissions).rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in path.parts)


def grade(submissions, autograder, table=None, written=None):
    """Grade every notebook in ``submissions`` and its folders; print each one's result, write a
    CSV table and, into ``written`` (beside the table by default), each notebook's written answers.
    A notebook is named by its path in ``submissions``: ``alice/02_engines.ipynb``."""
    submissions = Path(submissions)
    if written is None:
        base = Path(table).parent if table is not None else submissions
        written = base / "written" / submissions.resolve().name
    rows = []
    for path in submitted_notebooks(submissions):
        name = path.relative_to(submissions).as_posix()
        if not (Path(autograder) / (path.stem + ".json")).exists():
            print(f"{name}: skipped, no autograder for this chapter", file=sys.stderr)
            continue
        result = grade_notebook(path, autograder)
        answers = written_answers(path, autograder)
        print(name)
        for question_name, (points, possible, message) in result.items():
            print(f"  {question_name:<20} {points}/{possible}  {message}")
        if answers:
            report = Path(written) / Path(name).with_suffix(".md")
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(written_report(path, autograder, answers))
            blank = sum(a is None for a in answers.values())
            print(f"  written answers: {len(answers) - blank} of {len(answers)}, "
                  f"to read in {report} (not in the score)")
        score = sum(p for p, _, _ in result.values())
        possible = sum(q for _, q, _ in result.values())
        print(f"score: {score}/{possible}")
        rows.append((name, result, score, possible, answers))
    if table is not None:
        table = Path(table)
        table.parent.mkdir(parents=True, exist_ok=True)
        with open(table, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["notebook", "question", "points", "possible"])
            for name, result, score, possible, answers in rows:
                for q, (points, qpossible, _) in result.items():
                    out.writerow([name, q, points, qpossible])
                for q, answer in answers.items():
                    out.writerow([name, q, "written" if answer else "blank", ""])
                out.writerow([name, "total", score, possible])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the student edition and the autograder")
    b.add_argument("out", nargs="?", default=str(ROOT / "_build" / "classroom"))
    g = sub.add_parser("grade", help="grade every notebook in a folder")
    g.add_argument("submissions")
    g.add_argument("--autograder", default=str(ROOT / "_build" / "classroom" / "autograder"))
    g.add_argument("--table", default=str(ROOT / "_build" / "classroom" / "grades.csv"))
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in build(args.out):
            print("wrote", path)
        print("wrote", Path(args.out) / "autograder")
    else:
        if not Path(args.autograder).is_dir():
            build(Path(args.autograder).parent)
        grade(args.submissions, args.autograder, args.table)
        print("the table of scores per question is in", args.table, file=sys.stderr)


if __name__ == "__main__":
    main()
