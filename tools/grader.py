"""Grading a class: each submitted notebook run in its own sandbox, judged from outside it.

For one notebook, the grader

1. reads it as untrusted data (an empty, oversized or malformed file is reported as such);
2. puts an observation cell (``judges.observation_cell``) after each graded question's cells,
   with inputs drawn fresh for this notebook, and a one-time key that the record must carry;
3. runs the notebook top to bottom in a fresh kernel in the sandbox (``sandbox.py``), under its
   limits: errors do not stop it, a cell that runs too long is interrupted, and a notebook that
   runs past its time, prints too much or kills its kernel is stopped there;
4. reads back each observation's record and lets the question's judge, here, decide its points.

Grading a class runs ``jobs`` notebooks side by side, prints each one's result as it finishes,
and rewrites the table of scores after each (``classroom.py`` writes the report).
"""

import asyncio
import concurrent.futures
import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judges  # noqa: E402
import sandbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "book" / "data"
MAX_NOTEBOOK_BYTES = 64 * 2**20


class Stopped(Exception):
    """The run of a notebook was stopped before its end; the message says why."""


@dataclass
class Result:
    """What grading one notebook found."""
    name: str                         # its path in the submissions folder
    chapter: str | None               # the chapter it was graded as, or None
    questions: dict = field(default_factory=dict)   # label -> (points, possible, message)
    fault: str | None = None          # why it could not be graded whole, or None
    seconds: float = 0.0
    seed: int | None = None           # the seed of its inputs, to grade it again the same way
    written: dict = field(default_factory=dict)     # label -> text, or None where left blank
    notebook: object = None           # the notebook as it ran, without the observations

    @property
    def score(self):
        return sum(p for p, _, _ in self.questions.values())

    @property
    def possible(self):
        return sum(q for _, q, _ in self.questions.values())


def read_notebook(path):
    """The notebook at ``path``, or Stopped saying why it is not one."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise Stopped("not a notebook: the file is empty")
    if size > MAX_NOTEBOOK_BYTES:
        raise Stopped(f"not a notebook: {size / 2**20:.0f} MB, more than "
                      f"{MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:   # JSON, encoding or schema: the file is not a notebook
        raise Stopped(f"not a notebook: {clean(error)}") from None
    return notebook


def clean(text, width=200):
    """``text`` from a submission as one printable line of at most ``width`` characters, so that
    it cannot fake lines of the report."""
    text = re.sub(r"[^\x20-\x7e\u00a0-\uffff]+", " ", str(text)).strip()
    return text if len(text) <= width else text[:width - 3] + "..."


def _role(cell):
    meta = cell.get("metadata", {}).get("classroom", {})
    return (meta.get("question"), meta.get("role")) if isinstance(meta, dict) else (None, None)


def place(cells, questions):
    """Where each question's observation goes: after the last of its answer and check cells
    (so an answer moved below its check is still found), or at the end where the notebook has
    neither. Returns {label: index of the cell it follows, or len(cells)}."""
    places = {}
    for entry in questions:
        mine = [i for i, cell in enumerate(cells)
                if _role(cell) in ((entry.label, "answer"), (entry.label, "check"))]
        places[entry.label] = mine[-1] if mine else len(cells)
    return places


class _Client(NotebookClient):
    """nbclient's executor, with a cap on what the kernel may send back, and a cell that runs too
    long interrupted: the notebook goes on after it, unless the kernel ignores the interrupt."""

    def __init__(self, notebook, km, limits, **kw):
        super().__init__(notebook, km=km, timeout=limits.cell_seconds, **kw)
        self.output_left, self.interrupt_grace = limits.output_bytes, limits.interrupt_seconds

    def process_message(self, msg, cell, cell_index):
        self.output_left -= len(json.dumps(msg.get("content"), default=str))
        if self.output_left < 0:
            raise Stopped("stopped: it printed more than the output limit")
        return super().process_message(msg, cell, cell_index)

    async def _async_handle_timeout(self, timeout, cell=None):
        await self.km.interrupt_kernel()
        try:   # the interrupted cell's reply: the only execution in flight
            return await self.kc.shell_channel.get_msg(timeout=self.interrupt_grace)
        except Empty:
            raise Stopped(f"stopped: a cell ran past {timeout:.0f} s and did not stop when "
                          "interrupted") from None


def _kernel_manager(notebook_file, limits, unsafe, kernel_name):
    if unsafe:
        return AsyncKernelManager(kernel_name=kernel_name)
    manager = sandbox.SandboxedKernelManager(notebook=notebook_file, data=DATA, limits=limits)
    manager.kernel_spec.interrupt_mode = "message"   # a signal would not reach the sandbox
    return manager


async def _execute(notebook, notebook_file, limits, unsafe, kernel_name):
    """Run ``notebook`` in place; returns the fault that stopped it, or None."""
    km = _kernel_manager(notebook_file, limits, unsafe, kernel_name)
    client = _Client(notebook, km, limits, interrupt_on_timeout=True, allow_errors=True,
                     startup_timeout=120,
                     resources={"metadata": {"path": str(Path(notebook_file).parent)}})
    # the kernel's own stdout and stderr (os.write(1, ...)) reach no one
    run = asyncio.ensure_future(client.async_execute(stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL))
    done, _ = await asyncio.wait({run}, timeout=limits.wall_seconds)
    fault = None
    if not done:
        fault = f"stopped: timed out after {limits.wall_seconds:.0f} s"
        run.cancel()
    try:
        await km.shutdown_kernel(now=True)
    except Exception:
        pass
    try:
        await run
    except (asyncio.CancelledError, Exception) as error:
        fault = fault or _fault(error)
    return fault


def _fault(error):
    """What an exception that stopped a notebook's run says in the report."""
    if isinstance(error, Stopped):
        return str(error)
    if isinstance(error, DeadKernelError):
        return "stopped: the kernel died (it exited, or ran out of memory or CPU time)"
    if isinstance(error, RuntimeError) and "Kernel didn't respond" in str(error):
        return "stopped: the kernel did not start"
    return f"stopped: the kernel broke the Jupyter protocol ({clean(error, 120)})"


def grade_notebook(path, chapter, name=None, limits=sandbox.Limits(), unsafe=False,
                   kernel_name="python3", seed=None, autograder=None):
    """Grade the notebook at ``path`` as ``chapter`` (a notebook stem); a :class:`Result`.

    ``unsafe`` runs it without the sandbox, in the kernel ``kernel_name``. ``seed`` fixes the
    inputs (fresh ones by default)."""
    start = time.perf_counter()
    questions = judges.load().get(chapter, [])
    seed = secrets.randbits(63) if seed is None else seed
    result = Result(name or Path(path).name, chapter, seed=seed)
    try:
        notebook = read_notebook(path)
    except Stopped as stop:
        result.fault = str(stop)
        result.questions = {q.label: (0, q.points, "not graded") for q in questions}
        return result
    if autograder is not None:
        import classroom
        result.written = classroom.written_answers(notebook, chapter, autograder)
    rng = np.random.default_rng(seed)
    cells = notebook.cells
    places, planted, after = place(cells, questions), {}, {}
    for entry in questions:
        inputs, student = entry.draw(rng)
        key = secrets.token_hex(16)
        cell = nbformat.v4.new_code_cell(judges.observation_cell(entry, key, inputs, student))
        planted[entry.label] = (key, inputs, cell)
        after.setdefault(places[entry.label], []).append(cell)
    notebook.cells = [c for i, cell in enumerate(cells) for c in [cell] + after.get(i, [])]
    notebook.cells += after.get(len(cells), [])
    with tempfile.TemporaryDirectory(prefix="nnlib-grade-") as work:
        copy = Path(work) / f"{chapter}.ipynb"
        shutil.copyfile(path, copy)
        result.fault = asyncio.run(_execute(notebook, copy, limits, unsafe, kernel_name))
    for entry in questions:
        key, inputs, cell = planted[entry.label]
        result.questions[entry.label] = judge(entry, cell, key, inputs, result.fault)
    notebook.cells = cells
    result.notebook = notebook
    result.seconds = time.perf_counter() - start
    return result


def judge(entry, cell, key, inputs, fault=None):
    """(points, possible, message) for ``entry`` from its executed observation ``cell``."""
    if not cell.get("outputs") and cell.get("execution_count") is None:
        return 0, entry.points, "not reached: " + (fault or "the notebook stopped before it")
    try:
        kind, value = judges.read_record(cell.get("outputs", []), key)
    except ValueError as error:
        return 0, entry.points, clean(error)
    if kind == "missing":
        return 0, entry.points, (f"{', '.join(value)} not defined: the answer cell is missing, "
                                 "or it did not run")
    if kind == "error":
        return 0, entry.points, "the answer raised " + clean(value)
    try:
        entry.judge(value, **inputs)
    except judges.Wrong as wrong:
        return 0, entry.points, clean(wrong)
    except Exception as error:   # the answer's data has the wrong form for the judge
        return 0, entry.points, f"an answer of the wrong form ({clean(error, 120)})"
    return entry.points, entry.points, "passed"


# ---- a class ----------------------------------------------------------------------------------

def submitted_notebooks(submissions):
    """The notebooks in ``submissions`` and its folders, in order, as (path, name): Jupyter's
    checkpoints left out. Symbolic links are listed too, to be refused: one could point at a
    master, or at another student's work."""
    found = []
    for folder, dirs, files in os.walk(submissions):   # does not follow links to folders
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        for file in sorted(files):
            if file.endswith(".ipynb"):
                path = Path(folder) / file
                found.append((path, path.relative_to(submissions).as_posix()))
    return sorted(found, key=lambda pair: pair[1])


def chapter_of(path, chapters):
    """The chapter (a notebook stem of ``chapters``) that the notebook at ``path`` answers, or
    None: by its name, which may carry Colab's and Jupyter's renames ("Copy of 02_engines.ipynb",
    "02_engines (1).ipynb", "alice_02_engines.ipynb"), else by the graded cells it holds."""
    name = Path(path).name.lower()
    named = [c for c in chapters if c.lower() in name]
    if len(named) == 1:
        return named[0]
    try:
        notebook = read_notebook(path)
    except Stopped:
        return None
    labels = {_role(cell)[0] for cell in notebook.cells} - {None}
    held = [c for c, questions in chapters.items() if labels & {q.label for q in questions}]
    return held[0] if len(held) == 1 else None


def grade_class(submissions, autograder, table=None, written=None, jobs=None, unsafe=False,
                seed=None, limits=sandbox.Limits(), out=print):
    """Grade every notebook in ``submissions`` and its folders, ``jobs`` at a time (default: one
    per core); print each one's result as it finishes; rewrite the CSV ``table`` after each, and
    write each notebook's written answers into ``written`` (beside the table by default).
    A notebook is named by its path in ``submissions``: ``alice/02_engines.ipynb``.
    Returns the results, in the order of the names."""
    import classroom
    submissions = Path(submissions)
    if written is None:
        base = Path(table).parent if table is not None else submissions
        written = base / "written" / submissions.resolve().name
    chapters = judges.load()
    jobs = jobs or os.cpu_count() or 1
    found = submitted_notebooks(submissions)
    results, lock = [], threading.Lock()
    if table is not None:
        write_table(table, results, len(found), done=False)

    def grade_one(path, name):
        if path.is_symlink() or not path.is_file():
            return Result(name, None, fault="not graded: a symbolic link, not a notebook file")
        chapter = chapter_of(path, chapters)
        if chapter is None:
            return Result(name, None, fault="not graded: not a chapter of the book (by its name "
                                            "or by its graded cells)")
        try:
            return grade_notebook(path, chapter, name, limits, unsafe, seed=seed,
                                  autograder=autograder)
        except Exception as error:   # a fault of the grader's: this notebook only
            return Result(name, chapter, fault=f"not graded: the grader failed ({clean(error)})")

    def finished(result):
        with lock:
            results.append(result)
            if table is not None:
                write_table(table, results, len(found), done=len(results) == len(found))
            if result.written:
                page = Path(written) / Path(result.name).with_suffix(".md")
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(classroom.written_report(result.name, result.chapter, autograder,
                                                         result.written))
            out("\n".join(report(result, len(results), len(found))))

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, path, name) for path, name in found]
        try:
            for future in concurrent.futures.as_completed(futures):
                finished(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return sorted(results, key=lambda result: result.name)


def report(result, done, total):
    """The lines that report one notebook: its name, one line per question, its written answers,
    and ``score: X/Y`` last; a notebook that was not graded gets one line."""
    if result.chapter is None:
        return [f"{result.name}: {result.fault} [{done}/{total}]"]
    lines = [f"{result.name} [{done}/{total}, {result.chapter}, {result.seconds:.1f} s]"]
    if result.fault:
        lines.append(f"  {result.fault}")
    for label, (points, possible, message) in result.questions.items():
        lines.append(f"  {label:<20} {points}/{possible}  {message}")
    if result.written:
        blank = sum(answer is None for answer in result.written.values())
        lines.append(f"  written answers: {len(result.written) - blank} of {len(result.written)} "
                     "(not in the score)")
    return lines + [f"score: {result.score}/{result.possible}"]


def _cell(value):
    """A CSV field that a spreadsheet will not run as a formula."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_table(table, results, total, done):
    """The CSV of scores per question, replaced whole (never half-written). Its last row says
    whether the run is complete; a run that stopped early leaves "interrupted" there."""
    table = Path(table)
    table.parent.mkdir(parents=True, exist_ok=True)
    partial = table.with_name(table.name + ".partial")
    with open(partial, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["notebook", "question", "points", "possible", "note"])
        for result in sorted(results, key=lambda result: result.name):
            name = _cell(result.name)
            if result.chapter is None:
                out.writerow([name, "not graded", "", "", _cell(result.fault)])
                continue
            for label, (points, possible, message) in result.questions.items():
                out.writerow([name, label, points, possible, _cell(message)])
            for label, answer in result.written.items():
                out.writerow([name, label, "written" if answer else "blank", "", ""])
            note = result.fault or f"inputs seed {result.seed}"
            out.writerow([name, "total", result.score, result.possible, _cell(note)])
        status = (f"complete: {total} notebooks" if done else
                  f"interrupted: {len(results)} of {total} notebooks graded (or still running)")
        out.writerow(["(run)", "status", "", "", status])
    os.replace(partial, table)


def github_classroom(results):
    """The results in the form of GitHub Classroom's test runners, which its reporter action
    (classroom-resources/autograding-grading-reporter) reads, base64-encoded, to show each
    question and send the points to the Classroom."""
    tests = []
    for result in sorted(results, key=lambda result: result.name):
        if result.chapter is None:
            tests.append({"name": result.name, "status": "error", "score": 0,
                          "message": result.fault})
        for label, (points, possible, message) in result.questions.items():
            tests.append({"name": f"{result.name}: {label}", "score": points,
                          "status": "pass" if points == possible else "fail",
                          "message": message if points < possible else ""})
    return {"version": 1, "max_score": sum(r.possible for r in results), "tests": tests,
            "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail"}
