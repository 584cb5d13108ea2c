"""The rebuild-nnlib track: a student edition of the package chapters, and its grader.

Students rebuild nnlib themselves: in their copies of chapters 3, 4, 5, 8 and 9 the bodies of the
core functions (the layers' and the networks' passes, the epoch loop of ``sgd`` and the gradient
check) are stubs that say what to write. Everything else (argument checks, helpers, prose) stays,
so the chapters still read as the book does and the stubs fit into the package unchanged.

    python tools/rebuild.py build [DIR]                  # the edition (_build/classroom/rebuild)
    python tools/rebuild.py grade [CHAPTER] [--submission DIR] [--seed N] [--unsafe]

The edition starts from the classroom's student edition (``classroom.student_edition``: no worked
solutions), and its install cell carries the package exported from the stubbed
chapters, so no file of it holds an answer. In that package the exercises are stubs too: a cell
after the install cell puts the student's own code in their place (``use_your_code``: that of the
chapters up to this one, read from their notebooks beside it), and a cell after each stubbed cell
this chapter's as it runs, so the chapter's later cells, which use ``nn.``, run the student's code.

Grading exports the submitted chapters into a temporary package with the book's own export
(``tools/export.py``; the repository's ``nnlib/`` is never touched). The checks of a chapter need
the code of the chapters before it: those come from the submission where it has them, from the
book otherwise; the chapters after it always come from the book, so each chapter is graded on its
own. The student's package is then only observed, in the sandbox (``sandbox.py``; the book's
nnlib is not there): ``rebuild_observe.py`` runs it on cases drawn fresh for this run and prints
plain numbers behind a one-time key, and the grader judges them against its own float64
reference (``rebuild_checks.py``). Nothing the package prints, raises or patches decides a check.
"""

import argparse
import ast
import functools
import inspect
import json
import os
import pprint
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from itertools import dropwhile
from pathlib import Path

import nbformat
import numpy as np

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import classroom  # noqa: E402
from grader import MAX_NOTEBOOK_BYTES, clean  # noqa: E402
from export import export, generated_modules  # noqa: E402
import install_cell  # noqa: E402
import rebuild_checks  # noqa: E402
import sandbox  # noqa: E402

ROOT = TOOLS.parent
BOOK = ROOT / "book"
DEFAULT_EDITION = ROOT / "_build" / "classroom" / "rebuild"
OBSERVER = TOOLS / "rebuild_observe.py"
EXPORT_MARK = "#| export"
MAX_RECORD_BYTES = 16 * 2**20
# one observation run: every check of a chapter, start-up included, takes a few seconds
LIMITS = sandbox.Limits(wall_seconds=120, cpu_seconds=120, file_bytes=64 * 2**20)

# chapter number -> {qualified name of a function in an exported cell: what the student writes}
STUBS = {
    3: {"FullyConnectedInference.__call__":
        "write a = activation(weights @ x - bias) into a, in place: gemm, ger with the ones, then "
        "the activation; return a",
        "InferenceNetwork.__call__":
        "make the ones and the two ping-pong buffers, run every layer but the last into a buffer "
        "(A, B, A, ...), the last one into out; release the temporaries; return out"},
    4: {"TrainingNetwork.forward":
        "run every layer's forward() in order; return the network's output",
        "TrainingNetwork.backward":
        "run every layer's backward(eta), from the last layer to the first"},
    5: {"FullyConnectedTraining.forward":
        "z = W input - b 1ᵀ, output = σ(z), then overwrite z with σ'(z) computed from the output; "
        "return the output",
        "FullyConnectedTraining.backward":
        "δ = σ'(z) ⊙ output; v = -η/n δ inputᵀ; unless this is the first layer, write Wᵀ δ into "
        "the input; b += bias_sign η/n δ 1; W += v"},
    8: {"_epochs":
        "for each epoch: forward, the cost's derivative into the output, backward(eta) (report "
        "to the bar, synchronize if asked); return the cost of the last forward pass, raising "
        "_diverged(...) when it is not finite"},
    9: {"numerical_gradients":
        "on a float64 copy, nudge each weight and bias by ±h and take (up - down) / 2h of "
        "training_cost; return [(dW, db), ...] per layer",
        "backprop_gradients":
        "save the parameters, train one epoch at eta (calling prepare first), return "
        "(before - after) / eta per layer, and restore the parameters",
        "check_gradients":
        "compare numerical_gradients and backprop_gradients: one dict per layer and parameter "
        "with layer, parameter, relative_error and cosine"},
}


def chapter_file(folder, chapter):
    """The notebook of ``chapter`` in ``folder`` (named as in the book), or None."""
    found = sorted(Path(folder).glob(f"{chapter:02d}_*.ipynb"))
    return found[0] if found else None


def _functions(tree):
    """``{qualified name: FunctionDef}`` for the module-level functions and class methods."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item
    return found


def _is_check(statement):
    """True for a statement that only checks the arguments (``self._check_alive()``,
    ``batch, out = self._check_call(x, out)``): the stub keeps it, so misuse still fails early."""
    if not isinstance(statement, (ast.Expr, ast.Assign)) or not isinstance(statement.value,
                                                                             ast.Call):
        return False
    called = statement.value.func
    name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
    return name.startswith("_check")


def stub_source(source, hints):
    """``source`` (one exported cell) with the body of each function named in ``hints`` replaced
    by ``raise NotImplementedError(hint)``; its signature, docstring and leading argument checks
    stay. Returns the new source and the names that were stubbed."""
    lines = source.splitlines()
    functions = _functions(ast.parse(source))
    targets = sorted((functions[name].lineno, name) for name in hints if name in functions)
    for _, name in reversed(targets):   # bottom-up, so the line numbers above stay valid
        body = functions[name].body
        start = 1 if isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant) and isinstance(
                body[0].value.value, str) else 0
        while start < len(body) - 1 and _is_check(body[start]):
            start += 1
        first, last = body[start], body[-1]
        indent = " " * first.col_offset
        message = json.dumps(f"chapter exercise: {hints[name]}", ensure_ascii=False)
        stub = [f"{indent}# TODO: your code here", f"{indent}raise NotImplementedError("]
        stub += [f"{indent}    {piece}" for piece in _split_string(message, 96 - len(indent))]
        stub.append(f"{indent})")
        lines[first.lineno - 1:last.end_lineno] = stub
    return "\n".join(lines) + ("\n" if source.endswith("\n") else ""), [n for _, n in targets]


def _split_string(literal, width):
    """A JSON string literal cut into adjacent literals of at most ``width`` characters."""
    pieces, current = [], ""
    for word in json.loads(literal).split(" "):
        candidate = f"{current} {word}" if current else word
        if len(json.dumps(candidate, ensure_ascii=False)) + 1 > width and current:
            pieces.append(current + " ")   # the space stays with the piece before the break
            current = word
        else:
            current = candidate
    pieces.append(current)
    return [json.dumps(piece, ensure_ascii=False) for piece in pieces]


def stub_notebook(notebook, hints):
    """Stub the functions of ``hints`` in the exported cells of ``notebook`` (a NotebookNode), in
    place; raises if one of them is missing, so a renamed function cannot slip out of the track.
    Returns ``[(cell, module, names)]``, the cells stubbed."""
    stubbed, cells = [], []
    for cell in notebook.cells:
        if cell.cell_type != "code" or not cell.source.startswith(EXPORT_MARK):
            continue
        new, names = stub_source(cell.source, hints)
        if names:
            cell.source, cell.outputs, cell.execution_count = new, [], None
            cells.append((cell, cell.source.split(None, 3)[2], names))
            stubbed += names
    missing = sorted(set(hints) - set(stubbed))
    if missing or len(stubbed) != len(set(stubbed)):
        raise RuntimeError(f"the exported cells define {missing or stubbed} not exactly once")
    return cells


def use_your_code(exercises, namespace=None):
    """Point the installed nnlib at your own code of the rebuild track's exercises.

    ``exercises`` is ``{notebook: [[module, name], ...]}``; each function named is taken from
    ``namespace`` (this notebook's ``globals()``) or, without it, from the ``#| export`` cells of
    that notebook, read from beside this one, and put in nnlib in place of its stub. It runs as
    if exported into nnlib: the names it uses are the module's (its classes, its helpers), and
    yours only where the module has none of that name."""
    import importlib
    import json
    import pathlib
    import types

    import nnlib

    def exported(function, module, mine):
        if not isinstance(function, types.FunctionType):
            return function
        scope, codes = vars(module), [function.__code__]
        while codes:   # the names it and its inner functions use, yours where nnlib lacks them
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            for used in code.co_names:
                if used in mine and used not in scope:
                    scope[used] = mine[used]
        moved = types.FunctionType(function.__code__, scope, function.__name__,
                                   function.__defaults__, function.__closure__)
        moved.__kwdefaults__, moved.__doc__ = function.__kwdefaults__, function.__doc__
        moved.__qualname__ = function.__qualname__
        return moved

    for notebook, names in exercises.items():
        listed = ", ".join(name for _, name in names)
        scopes = {}
        try:
            if namespace is None:
                path = pathlib.Path(notebook)
                if not path.exists():
                    print(f"{notebook} is not beside this notebook (in Colab: upload it): "
                          f"nnlib's {listed} stay stubs")
                    continue
                for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                    source = "".join(cell["source"])
                    if cell["cell_type"] == "code" and source.startswith("#| export "):
                        module = source.split(None, 3)[2]
                        scope = scopes.setdefault(module, dict(vars(
                            importlib.import_module(f"nnlib.{module}"))))
                        exec(compile(source, notebook, "exec"), scope)
            for module, name in names:
                mine = namespace if namespace is not None else scopes[module]
                target = importlib.import_module(f"nnlib.{module}")
                owner, _, attribute = name.rpartition(".")
                if owner:
                    function = next(vars(c)[attribute] for c in mine[owner].__mro__
                                    if attribute in vars(c))
                    function = exported(function, target, mine)
                    setattr(getattr(target, owner), attribute, function)
                else:
                    function = exported(mine[name], target, mine)
                    if getattr(nnlib, name, None) is getattr(target, name):
                        setattr(nnlib, name, function)
                    setattr(target, name, function)
        except Exception as error:
            print(f"{notebook}: {type(error).__name__}: {error}; nnlib's {listed} may stay stubs")
            continue
        print(f"nnlib runs your {listed}, from {notebook}")


USE_TITLE = "#@title Run your own code in nnlib (the rebuild edition)"


def _call(exercises, *more):
    """The source of a call of ``use_your_code`` with ``exercises``, in lines the book shows."""
    start = "use_your_code("
    listed = pprint.pformat(exercises, width=96 - len(start)).replace("\n", "\n" + " " * len(start))
    return start + ", ".join([listed, *more]) + ")"


def _use_cell(notebook, name, stubbed, chapters):
    """Put the edition's cells that point nnlib at the student's code into ``notebook`` (the
    chapter ``name``): after the install cell, ``use_your_code`` and its call for the chapters
    ``chapters`` (``{notebook: [[module, name], ...]}``, this one included); after each cell of
    ``stubbed``, its call for the functions of that cell."""
    for cell, module, names in stubbed:
        call = nbformat.v4.new_code_cell(
            "# The rebuild edition: from here on, nnlib (nn) runs your code of the cell above\n"
            + _call({name: [[module, n] for n in names]}, "globals()"))
        call.metadata = {"tags": ["rebuild-edition"]}
        notebook.cells.insert(notebook.cells.index(cell) + 1, call)
    helper = inspect.getsource(use_your_code)
    source = [USE_TITLE,
              "# The nnlib installed above has this track's exercises as stubs. use_your_code puts",
              "# yours in their place: here, those of this chapter and the ones before it, read",
              "# from your notebooks beside this one (this one as last saved), and this chapter's",
              "# again after each cell you write, as it runs.",
              helper.rstrip(), "", "", _call(chapters)]
    cell = nbformat.v4.new_code_cell("\n".join(source))
    cell.metadata = {"tags": ["remove-cell", "rebuild-edition"],
                     "jupyter": {"source_hidden": True}, "cellView": "form"}
    install = install_cell.install_cell(notebook)
    notebook.cells.insert(notebook.cells.index(install) + 1, cell)


def build(dest=DEFAULT_EDITION):
    """Write the rebuild edition into ``dest``; return its notebooks.

    Each chapter is the classroom's student edition of the book's (no worked solutions) with its
    exercises stubbed, and its install cell carries the package exported from these stubbed
    chapters (the book's for the others): no file of the edition holds an answer."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    notebooks, stubbed = {}, {}
    for chapter, hints in STUBS.items():
        path = chapter_file(BOOK, chapter)
        notebook = classroom.student_edition(nbformat.read(path, as_version=4))
        stubbed[path.name] = stub_notebook(notebook, hints)
        notebooks[path.name] = notebook
    with tempfile.TemporaryDirectory(prefix="nnlib-rebuild-") as temp:
        book = Path(temp) / "book"
        book.mkdir()
        for original in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
            if original.name in notebooks:
                nbformat.write(notebooks[original.name], book / original.name)
            else:
                shutil.copy(original, book / original.name)
        home = _package(book, Path(temp))   # the modules' "# %%" lines say ../book/, as ours
        shutil.copy(ROOT / "pyproject.toml", home)
        wheel = install_cell.build_wheel(home)
    install = install_cell.cell_source(wheel, install_cell.wheel_name())
    written, so_far = [], {}
    for name, notebook in notebooks.items():
        install_cell.install_cell(notebook).source = install
        so_far[name] = [[module, n] for _, module, names in stubbed[name] for n in names]
        _use_cell(notebook, name, stubbed[name], dict(so_far))
        nbformat.write(notebook, dest / name)
        written.append(dest / name)
    (dest / "README.md").write_text(
        "# Rebuild nnlib\n\nFill in every function that raises NotImplementedError, chapter by "
        "chapter, and keep the\nchapters in one folder: each runs your code of the chapters "
        "before it, read from their\nnotebooks beside it (in Colab, upload them with it). Your "
        "teacher grades each chapter\n(3, 4, 5, 8, 9) with `make grade-package` in the book's "
        "repository.\n")
    return written


# ---- grading --------------------------------------------------------------------------------

class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here, and grading without it was not asked for."""


@functools.lru_cache(maxsize=None)
def _sandbox_problem():
    return sandbox.unavailable()


def _package(book, home):
    """Export the notebooks of ``book`` into ``home/nnlib`` (a copy of the hand-written parts of
    nnlib plus the exported modules) with the book's own export; return ``home``."""
    shutil.copytree(ROOT / "nnlib", Path(home) / "nnlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    export(book, Path(home) / "nnlib")
    return Path(home)


_EXPORT = re.compile(r"\s*#\s*\|\s*export\s+(\w+)\s*")
_DIRECTIVE = re.compile(r"\s*(#\s*\||%%|$)")   # what nbdev reads as directives atop a cell


def exported_cells(path, modules):
    """The exported cells of the submitted notebook at ``path``, read as untrusted data, as a
    notebook of their own: only cells that start ``#| export MODULE`` for one of ``modules``,
    without any other nbdev directive (one that names a path would write outside the package).
    Raises ValueError when the file is not a notebook."""
    if Path(path).stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"{Path(path).name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        sources = [(cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"]))
                   for cell in cells if cell["cell_type"] == "code"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{Path(path).name} is not a notebook ({type(error).__name__})") from None
    kept = nbformat.v4.new_notebook()
    for source in sources:
        lines = source.splitlines()
        mark = _EXPORT.fullmatch(lines[0]) if lines else None
        if mark and mark[1] in modules:
            body = dropwhile(_DIRECTIVE.match, lines[1:])
            kept.cells.append(nbformat.v4.new_code_cell("\n".join([f"#| export {mark[1]}",
                                                                    *body])))
    return kept


def grade(chapter, submission=DEFAULT_EDITION, out=print, unsafe=False, seed=None):
    """Grade ``chapter`` of ``submission``; print one line per check and ``score: X/Y``.

    The package runs in the sandbox; ``unsafe`` runs it in a plain process instead (trusted code
    only: it sees the whole machine). Where the sandbox cannot run, grading refuses, saying why
    (SandboxUnavailable). ``seed`` fixes the cases (fresh ones by default).
    Returns ``(passed, total, {check name: passed})``."""
    if chapter not in STUBS:
        raise SystemExit(f"the rebuild track has chapters {sorted(STUBS)}, not {chapter}")
    if not unsafe and _sandbox_problem():
        raise SandboxUnavailable(f"cannot grade in the sandbox: {_sandbox_problem()} (--unsafe "
                                 "grades without it, for trusted code only)")
    submission = Path(submission)
    seed = secrets.randbits(63) if seed is None else seed
    checks = rebuild_checks.CHECKS[chapter]
    cases = [entry.cases(np.random.default_rng([seed, chapter, i]))
             for i, entry in enumerate(checks)]
    modules = {path.stem for path in generated_modules(ROOT / "nnlib")}
    record, problem = None, None
    with tempfile.TemporaryDirectory(prefix="nnlib-grade-") as temp:
        book, sources = Path(temp) / "book", []
        book.mkdir()
        for original in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
            number = int(original.name[:2])
            theirs = chapter_file(submission, number) if number <= chapter else None
            if theirs is None:
                shutil.copy(original, book / original.name)
            else:
                try:
                    nbformat.write(exported_cells(theirs, modules), book / original.name)
                except ValueError as error:
                    problem = problem or f"not run ({error})"
            if number in STUBS and number <= chapter:
                sources.append(f"{number} {'submitted' if theirs else 'from the book'}")
        out(f"chapter {chapter} of {submission} (chapters used: {', '.join(sources)}; "
            f"seed {seed})")
        if problem is None:
            try:
                home = _package(book, Path(temp) / "packages")
            except Exception as error:   # nbdev on the student's code: a syntax error, say
                problem = f"not run (the chapters could not be exported: {clean(error)})"
        if problem is None:
            shutil.copy(OBSERVER, home / OBSERVER.name)
            record, problem = observe(home, [[case.plain() for case in its] for its in cases],
                                      Path(temp), unsafe)
    results = {}
    for i, (entry, its) in enumerate(zip(checks, cases)):
        ok, why = _verdict(entry, its, record, i, problem)
        results[entry.name] = ok
        out(f"PASS {entry.name}" if ok else f"FAIL {entry.name}: {why}")
    passed = sum(results.values())
    out(f"score: {passed}/{len(results)}")
    return passed, len(results), results


def observe(home, checks, work, unsafe=False):
    """Run ``rebuild_observe`` on the package in ``home`` (in the sandbox, or in a plain process
    where ``unsafe``) with the cases ``checks`` (plain data, a list per check); scratch files go
    to ``work``. Returns ``(record, None)``, or ``(None, why no record came back)``."""
    key = secrets.token_hex(16)
    request = json.dumps({"key": key, "checks": checks}).encode()
    run_dir = Path(work) / "run"   # shared with the sandbox, which needs one; left empty
    run_dir.mkdir()
    with open(Path(work) / "stdout", "w+b") as stdout, \
            open(Path(work) / "stderr", "w+b") as stderr, tempfile.TemporaryFile() as seccomp:
        if unsafe:
            command, fds = [sys.executable, "-m", OBSERVER.stem], ()
            environment = dict(os.environ, PYTHONPATH=str(home), PYTHONDONTWRITEBYTECODE="1",
                               OPENBLAS_NUM_THREADS="1")
        else:
            seccomp.write(sandbox.seccomp_filter())
            seccomp.seek(0)
            fds, environment = (seccomp.fileno(),), None
            command = sandbox.command(sys.executable, [OBSERVER.stem], run_dir, limits=LIMITS,
                                      seccomp_fd=seccomp.fileno(), packages=home)
        try:
            status = subprocess.run(command, input=request, stdout=stdout, stderr=stderr,
                                    cwd=home, env=environment, pass_fds=fds,
                                    timeout=LIMITS.wall_seconds).returncode
        except subprocess.TimeoutExpired:
            status = None
        stdout.seek(0)
        try:
            return read_record(stdout, key), None
        except ValueError as error:
            if str(error) != "none":
                return None, f"not judged: {error}"
        stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 4096))
        last = (stderr.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    if status is None:
        why = f"it ran past {LIMITS.wall_seconds:.0f} s"
    else:
        why = f"its process ended (status {status}) before it reported"
    said = f"; its last line on stderr: {clean(last, 120)}" if last.strip() else ""
    return None, f"not run (no result came back from the package: {why}{said})"


def read_record(stream, key, limit=MAX_RECORD_BYTES):
    """The one ``KEY JSON`` line in ``stream`` (binary; a line of its own), parsed. Raises
    ValueError("none") where there is none, and ValueError saying why where there are several
    (the package printed one too: tampering) or it is malformed."""
    prefix, found, line_start = f"{key} ".encode(), [], True
    while chunk := stream.readline(limit):
        if line_start and chunk.startswith(prefix):
            found.append(chunk)
        line_start = chunk.endswith(b"\n")
    if not found:
        raise ValueError("none")
    if len(found) > 1:
        raise ValueError(f"{len(found)} results came back for one run: tampered with")
    if not found[0].endswith(b"\n"):
        raise ValueError("the result is too large")
    try:
        record = json.loads(found[0][len(prefix):])
    except ValueError:
        raise ValueError("a malformed result") from None
    if not isinstance(record, dict) or not isinstance(record.get("results"), list):
        raise ValueError("a malformed result")
    return record


def _verdict(entry, cases, record, index, problem):
    """``(passed, why not)`` for the check ``entry``, the ``index``-th of its chapter."""
    if problem:
        return False, problem
    if record.get("package") is not None:
        return False, f"not run (the package did not import: {_raised(record['package'])})"
    try:
        observed = record["results"][index]
        values = []
        for one, in_case in zip(observed, cases, strict=True):
            (kind, content), = one.items()
            if kind == "error":
                return False, _raised(content)
            if kind != "value":
                raise ValueError(kind)
            values.append(content)
    except (LookupError, AttributeError, TypeError, ValueError):
        return False, "not judged: a malformed result"
    try:
        entry.judge(values, cases)
    except AssertionError as wrong:
        return False, clean(wrong)
    except Exception as error:   # the numbers came back in the wrong form for the judge
        return False, f"an answer of the wrong form ({type(error).__name__}: {clean(error, 120)})"
    return True, None


def _raised(error):
    """What the student's code raised, as the check's message says it."""
    if not isinstance(error, dict):
        return "raised something unreadable"
    kind, message = clean(error.get("type"), 60), str(error.get("message"))
    if error.get("stub") is True:
        return f"not written yet ({clean(message[:60])}...)"
    if kind == "AssertionError":
        return clean(message)
    return f"raised {kind}: {clean(message)}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write the student edition")
    make.add_argument("dest", nargs="?", default=DEFAULT_EDITION, type=Path)
    mark = commands.add_parser("grade", help="grade one chapter (or all) of a submission")
    mark.add_argument("chapter", nargs="?", type=int, help="3, 4, 5, 8 or 9 (default: all)")
    mark.add_argument("--submission", default=DEFAULT_EDITION, type=Path)
    mark.add_argument("--seed", type=int, help="the seed of the cases (default: a fresh one)")
    mark.add_argument("--unsafe", action="store_true",
                      help="run the package without the sandbox (trusted code only)")
    args = parser.parse_args(argv)
    if args.command == "build":
        for notebook in build(args.dest):
            print("wrote", notebook)
        return
    if not args.submission.exists():
        if args.submission.resolve() != DEFAULT_EDITION.resolve():
            raise SystemExit(f"no submission at {args.submission}")
        build(args.submission)   # `make grade-package` on a fresh clone grades the stubs
    for chapter in [args.chapter] if args.chapter else sorted(STUBS):
        try:
            grade(chapter, args.submission, unsafe=args.unsafe, seed=args.seed)
        except SandboxUnavailable as refusal:
            raise SystemExit(str(refusal)) from None


if __name__ == "__main__":
    main()
