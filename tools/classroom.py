"""The classroom edition: a student edition of the chapters, an autograder, and grading.

A chapter's graded exercise is a group of cells that share a question name (the exercise's label)
in their metadata, ``"classroom": {"question": "ex-ch2-bias", "role": ROLE}``:

- ``answer``: the visible cell the student fills in (a stub in the book);
- ``solution``: the worked solution, inside the exercise's gated solution block
  (``{solution-start}`` ... ``{solution-end}``, collapsed in the book), defining the same name;
- ``check``: the visible check, plain Python, that grades whatever the answer cell defined;
- ``hidden``: the hidden test (tagged ``remove-cell`` in the book), kept out of the student edition.

``build`` writes ``student/`` (each chapter with graded exercises, minus its solution blocks and
hidden tests) and ``autograder/`` (per chapter, a JSON file of each question's check and hidden
tests). ``grade`` runs each submitted notebook top to bottom (errors allowed), then each question's
check and hidden tests from the autograder in the same kernel: a question scores its points when
they all pass. Usage:

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


def role(cell):
    """The classroom role of a cell (``answer``, ``solution``, ``check``, ``hidden``) or None."""
    return cell.metadata.get("classroom", {}).get("role")


def question(cell):
    return cell.metadata.get("classroom", {}).get("question")


def graded_chapters(book=BOOK):
    """The chapter notebooks that have graded exercises."""
    return [p for p in sorted(book.glob("[0-9][0-9]_*.ipynb"))
            if any(role(c) for c in nbformat.read(p, as_version=4).cells)]


def questions(notebook):
    """{question: {"points": 1, "check": [source], "hidden": [source]}} in the chapter's order."""
    found = {}
    for cell in notebook.cells:
        if role(cell) in ("check", "hidden"):
            entry = found.setdefault(question(cell), {"points": 1, "check": [], "hidden": []})
            entry[role(cell)].append(cell.source)
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
        if cell.cell_type == "code" and role(cell) in ("answer", "check"):
            cell.outputs, cell.execution_count = [], None
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
        tests = {"chapter": path.name, "questions": questions(master)}
        (out / "autograder" / (path.stem + ".json")).write_text(json.dumps(tests, indent=1) + "\n")
    return written


def grade_notebook(path, autograder, timeout=600):
    """{question: (points, possible, message)} for one submitted notebook."""
    path = Path(path)
    spec = Path(autograder) / (path.stem + ".json")
    if not spec.exists():
        raise FileNotFoundError(f"{path.name}: no autograder for this chapter ({spec})")
    tests = json.loads(spec.read_text())["questions"]
    notebook = nbformat.read(path, as_version=4)
    # the submission's own checks and tests are not trusted: ours run after it
    notebook.cells = [c for c in notebook.cells if role(c) not in ("check", "hidden")]
    first_test = len(notebook.cells)
    owners = []
    for name, entry in tests.items():
        for source in entry["check"] + entry["hidden"]:
            notebook.cells.append(nbformat.v4.new_code_cell(source))
            owners.append(name)
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    failures = {}
    for name, cell in zip(owners, notebook.cells[first_test:]):
        for output in cell.outputs:
            if output.output_type == "error" and name not in failures:
                failures[name] = f"{output.ename}: {output.evalue}"
    return {name: (0 if name in failures else entry["points"], entry["points"],
                   failures.get(name, "passed"))
            for name, entry in tests.items()}


def grade(submissions, autograder, table=None):
    """Grade every notebook in ``submissions``; print each one's result and write a CSV table."""
    rows = []
    for path in sorted(Path(submissions).glob("*.ipynb")):
        if not (Path(autograder) / (path.stem + ".json")).exists():
            print(f"{path.name}: skipped, no graded exercises in this chapter yet", file=sys.stderr)
            continue
        result = grade_notebook(path, autograder)
        print(path.name)
        for name, (points, possible, message) in result.items():
            print(f"  {name:<20} {points}/{possible}  {message}")
        score = sum(p for p, _, _ in result.values())
        possible = sum(q for _, q, _ in result.values())
        print(f"score: {score}/{possible}")
        rows.append((path.name, result, score, possible))
    if table is not None:
        table = Path(table)
        table.parent.mkdir(parents=True, exist_ok=True)
        with open(table, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["notebook", "question", "points", "possible"])
            for name, result, score, possible in rows:
                for q, (points, qpossible, _) in result.items():
                    writer.writerow([name, q, points, qpossible])
                writer.writerow([name, "total", score, possible])
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
