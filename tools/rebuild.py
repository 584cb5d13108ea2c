"""The rebuild-nnlib track: a student edition of the package chapters, and its grader.

Students rebuild nnlib themselves: in their copies of chapters 3, 4, 5, 8 and 9 the bodies of the
core functions (the layers' and the networks' passes, the epoch loop of ``sgd`` and the gradient
check) are stubs that say what to write. Everything else (argument checks, helpers, prose) stays,
so the chapters still read as the book does and the stubs fit into the package unchanged.

    python tools/rebuild.py build [DIR]                  # the edition (_build/classroom/rebuild)
    python tools/rebuild.py grade [CHAPTER] [--submission DIR]   # one chapter, or all five

Grading exports the submitted chapters into a temporary package with the book's own export
(``tools/export.py``; the repository's ``nnlib/`` is never touched) and runs the chapter's checks
(``tools/rebuild_checks.py``) against it in a fresh Python. The checks of a chapter need the code
of the chapters before it: those come from the submission where it has them, from the book
otherwise; the chapters after it always come from the book, so each chapter is graded on its own.
"""

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
DEFAULT_EDITION = ROOT / "_build" / "classroom" / "rebuild"
CHECKS = Path(__file__).resolve().parent / "rebuild_checks.py"
EXPORT_MARK = "#| export"

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
        "z = W a⁻¹ - b 1ᵀ, output = σ(z), then overwrite z with σ'(z) computed from the output; "
        "return the output",
        "FullyConnectedTraining.backward":
        "δ = σ'(z) ⊙ output; v = -η/n δ (a⁻¹)ᵀ; unless this is the first layer, write Wᵀ δ into "
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


def student_notebook(notebook, hints):
    """The notebook ``notebook`` (a dict) with the functions of ``hints`` stubbed in its exported
    cells; raises if one of them is missing, so a renamed function cannot slip out of the track."""
    stubbed = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or not source.startswith(EXPORT_MARK):
            continue
        new, names = stub_source(source, hints)
        if names:
            cell["source"] = new.splitlines(keepends=True)
            cell["outputs"], cell["execution_count"] = [], None
            stubbed += names
    missing = sorted(set(hints) - set(stubbed))
    if missing or len(stubbed) != len(set(stubbed)):
        raise RuntimeError(f"the exported cells define {missing or stubbed} not exactly once")
    return notebook


def build(dest=DEFAULT_EDITION):
    """Write the student edition of the package chapters into ``dest``; return its notebooks."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter, hints in STUBS.items():
        original = chapter_file(BOOK, chapter)
        notebook = student_notebook(json.loads(original.read_text()), hints)
        target = dest / original.name
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    (dest / "README.md").write_text(
        "# Rebuild nnlib\n\nFill in every function that raises NotImplementedError, chapter by "
        "chapter.\nGrade a chapter with `make grade-package CHAPTER=3` (3, 4, 5, 8, 9).\n")
    return written


def _package_from(book):
    """Export the notebooks of ``book`` into ``book/../nnlib`` (a copy of the hand-written parts
    of nnlib plus the exported modules) with the book's own export; return the folder above."""
    sys.path.insert(0, str(ROOT / "tools"))
    from export import export

    home = Path(book).parent
    shutil.copytree(ROOT / "nnlib", home / "nnlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    export(book, home / "nnlib")
    return home


def grade(chapter, submission=DEFAULT_EDITION, out=print):
    """Grade ``chapter`` of ``submission``; print one line per check and ``score: X/Y``.

    Returns ``(passed, total, {check name: passed})``."""
    if chapter not in STUBS:
        raise SystemExit(f"the rebuild track has chapters {sorted(STUBS)}, not {chapter}")
    submission = Path(submission)
    with tempfile.TemporaryDirectory(prefix="nnlib-grade-") as temp:
        book, sources = Path(temp) / "book", []
        book.mkdir()
        for original in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
            number = int(original.name[:2])
            theirs = chapter_file(submission, number) if number <= chapter else None
            shutil.copy(theirs or original, book / original.name)
            if number in STUBS and number <= chapter:
                sources.append(f"{number} {'submitted' if theirs else 'from the book'}")
        out(f"chapter {chapter} of {submission} (chapters used: {', '.join(sources)})")
        home = _package_from(book)
        environment = dict(os.environ, PYTHONPATH=str(home), PYTHONDONTWRITEBYTECODE="1")
        run = subprocess.run([sys.executable, str(CHECKS), str(chapter)], cwd=home, text=True,
                             capture_output=True, env=environment, timeout=300)
    results = {}
    for line in run.stdout.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("PASS", "FAIL"):
            results[rest.split(":", 1)[0].strip()] = verdict == "PASS"
            out(line)
    if run.returncode != 0:   # the package did not import, say: every check not run fails
        reason = (run.stderr.strip().splitlines() or ["no output"])[-1]
        for name in _check_names(chapter):
            if name not in results:
                results[name] = False
                out(f"FAIL {name}: not run ({reason})")
    passed = sum(results.values())
    out(f"score: {passed}/{len(results)}")
    return passed, len(results), results


def _check_names(chapter):
    listing = subprocess.run([sys.executable, str(CHECKS), "--list", str(chapter)],
                             text=True, capture_output=True, check=True)
    return listing.stdout.splitlines()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write the student edition")
    make.add_argument("dest", nargs="?", default=DEFAULT_EDITION, type=Path)
    mark = commands.add_parser("grade", help="grade one chapter (or all) of a submission")
    mark.add_argument("chapter", nargs="?", type=int, help="3, 4, 5, 8 or 9 (default: all)")
    mark.add_argument("--submission", default=DEFAULT_EDITION, type=Path)
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
        grade(chapter, args.submission)


if __name__ == "__main__":
    main()
