"""The classroom edition: a student edition of the chapters, and the teacher's autograder.

A chapter's graded exercise is a group of cells that share a question name (the exercise's label)
in their metadata, ``"classroom": {"question": "ex-ch2-bias", "role": ROLE}``:

- ``answer``: the visible cell the student fills in (a stub in the book). A *code* answer defines
  a name; a *markdown* answer is a written one (prose, or a number read off the student's own
  run, with the reasoning), tagged ``remove-cell`` so that the book does not show the blank;
- ``solution``: the worked solution, inside the exercise's gated solution block
  (``{solution-start}`` ... ``{solution-end}``, collapsed in the book), defining the same name;
- ``check``: the visible check, plain Python, that tells the student whether the answer is right.

A question with a check is graded automatically, by the question of the same label in
``tools/judges/`` (observed in the student's kernel, judged outside it: see ``grader.py``); a
question's written answers are collected for the teacher to read, beside the exercise and the
book's worked solution, and are not part of the score.

``build`` writes ``student/`` (every chapter, minus its solution blocks) and ``autograder/`` (per
chapter, a JSON file naming its graded questions and holding the exercise and solution of each
written answer). ``grade`` grades every notebook of a folder (``grader.py``). Usage:

    python tools/classroom.py build _build/classroom
    python tools/classroom.py grade SUBMISSIONS [--jobs N] [--unsafe]
"""

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judges  # noqa: E402

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
    """The classroom role of a cell (``answer``, ``solution``, ``check``) or None."""
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
    """The labels of the questions graded automatically (those with a check), in order."""
    return list(dict.fromkeys(question(c) for c in notebook.cells if role(c) == "check"))


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
    """A copy of ``notebook`` without its solution blocks, answers not run."""
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
        if inside:
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
    judged = judges.load()
    for path in graded_chapters(book):
        master = nbformat.read(path, as_version=4)
        graded = {entry.label: entry.points for entry in judged.get(path.stem, [])}
        if list(graded) != questions(master):
            raise ValueError(f"{path.name}: the questions with a check, {questions(master)}, "
                             f"and those with a judge in tools/judges, {list(graded)}, differ")
        student = out / "student" / path.name
        nbformat.write(student_edition(master), student)
        written.append(student)
        tests = {"chapter": path.name, "questions": graded, "written": written_questions(master)}
        (out / "autograder" / (path.stem + ".json")).write_text(json.dumps(tests, indent=1) + "\n")
    workflow = out / "student" / ".github" / "workflows" / "classroom.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(github_workflow())
    return written


def github_workflow(repository=None, branch=None):
    """The GitHub Actions workflow of the student edition, for GitHub Classroom: on every push it
    grades the student's notebooks with this book's grader, checked out from the book's
    repository (found as the Colab button finds it), and reports the points to the Classroom."""
    sys.path.insert(0, str(ROOT / "tools" / "sphinx"))
    from launch_links import find_branch, find_repository
    repository = repository or find_repository(str(ROOT)) or "https://github.com/OWNER/REPO"
    branch = branch or find_branch(str(ROOT))
    return WORKFLOW.format(repository=repository.removeprefix("https://github.com/"),
                           branch=branch)


WORKFLOW = """\
# Grades this repository's notebooks with the nnlib book's grader on every push, and reports the
# points to GitHub Classroom. Written by `make classroom`: where the book's repository was not
# known then, replace OWNER/REPO below with it.
name: Autograding Tests
on: [push, workflow_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    steps:
      - name: The student's notebooks
        uses: actions/checkout@v4
        with:
          path: submission
      - name: The book, with its grader
        uses: actions/checkout@v4
        with:
          repository: {repository}
          ref: {branch}
          path: book
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Set up the grader and its sandbox
        run: |
          sudo apt-get update -qq && sudo apt-get install -y -qq bubblewrap
          # Ubuntu 24.04 keeps unprivileged user namespaces, which bubblewrap needs, from bwrap
          sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 || true
          cd book && python -m venv .venv
          .venv/bin/pip install --quiet -r requirements-book.txt
          .venv/bin/pip install --quiet --no-deps -e .
      - name: Grade
        id: nnlib
        run: |
          cd book
          .venv/bin/python tools/classroom.py grade ../submission --jobs 2 \\
              --table ../grades.csv --github-classroom ../results.json
          echo "result=$(base64 -w0 ../results.json)" >> "$GITHUB_OUTPUT"
      - name: Report the points
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          NNLIB_RESULTS: ${{{{ steps.nnlib.outputs.result }}}}
        with:
          runners: nnlib
"""


def load_autograder(chapter, autograder):
    """The autograder's file for ``chapter`` (a notebook stem, or a path whose stem is one)."""
    spec = Path(autograder) / (Path(chapter).stem + ".json")
    if not spec.exists():
        raise FileNotFoundError(f"{Path(chapter).name}: no autograder for this chapter ({spec})")
    return json.loads(spec.read_text())


def written_answers(notebook, chapter, autograder):
    """{question: answer} for the written answers of ``notebook`` (None where left blank)."""
    expected = load_autograder(chapter, autograder).get("written", {})
    answers = {}
    for name in expected:
        text = "\n\n".join(str(c.get("source", "")).strip() for c in notebook.cells
                            if question(c) == name and is_written(c)).strip()
        answers[name] = None if text in ("", WRITTEN_PLACEHOLDER) else text
    return answers


def written_report(name, chapter, autograder, answers):
    """The written ``answers`` of the notebook ``name`` as Markdown: exercise, answer, worked
    solution."""
    spec = load_autograder(chapter, autograder).get("written", {})
    lines = [f"# Written answers: {name}", ""]
    for label, answer in answers.items():
        lines += [f"## {label}", "", "**Exercise.** " + spec[label]["exercise"], "",
                  "**Answer.**", "", answer or "*(left blank)*", "",
                  "**The book's solution.** " + spec[label]["solution"], ""]
    return "\n".join(lines)


def arguments():
    """The command line's parser: ``build`` and ``grade``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the student edition and the autograder")
    b.add_argument("out", nargs="?", default=str(ROOT / "_build" / "classroom"))
    g = sub.add_parser("grade", help="grade every notebook in a folder and its folders")
    g.add_argument("submissions")
    g.add_argument("--autograder", default=str(ROOT / "_build" / "classroom" / "autograder"))
    g.add_argument("--table", default=str(ROOT / "_build" / "classroom" / "grades.csv"))
    g.add_argument("--jobs", type=int, default=0,
                   help="notebooks graded side by side (default: one per core)")
    g.add_argument("--unsafe", action="store_true",
                   help="grade without the sandbox where bubblewrap is missing: only for "
                        "notebooks you trust, since a notebook can then read and change files")
    g.add_argument("--seed", type=int, help="the seed of every notebook's inputs "
                                            "(default: fresh for each notebook)")
    g.add_argument("--github-classroom", metavar="FILE",
                   help="also write the results as GitHub Classroom's reporter reads them")
    return parser


def main(argv=None):
    args = arguments().parse_args(argv)
    if args.command == "build":
        for path in build(args.out):
            print("wrote", path)
        print("wrote", Path(args.out) / "autograder")
        return
    import grader
    import sandbox
    if not args.unsafe:
        reason = sandbox.unavailable()
        if reason:
            raise SystemExit(f"cannot grade safely: {reason}.\nSubmissions are untrusted code: "
                             "install bubblewrap, or pass --unsafe (UNSAFE=1 with make) to grade "
                             "notebooks you trust without a sandbox.")
    if not Path(args.autograder).is_dir():
        build(Path(args.autograder).parent)
    results = grader.grade_class(args.submissions, args.autograder, args.table,
                                 jobs=args.jobs or None, unsafe=args.unsafe, seed=args.seed)
    if args.github_classroom:
        Path(args.github_classroom).write_text(json.dumps(grader.github_classroom(results)))
    print("the table of scores per question is in", args.table, file=sys.stderr)


if __name__ == "__main__":
    main()
