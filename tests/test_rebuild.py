"""The rebuild-nnlib track (tools/rebuild.py): the book's chapters score full marks, the untouched
stubs score zero, and each of the article's two bugs, planted into a correct chapter 5, fails the
one check named after what it breaks. One edition is built per test session; a grade takes about
half a second (an export into a temporary folder and one Python process)."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import rebuild  # noqa: E402


@pytest.fixture(scope="session")
def edition(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rebuild")
    rebuild.build(folder)
    return folder


def grade(chapter, submission):
    lines = []
    passed, total, results = rebuild.grade(chapter, submission, out=lines.append)
    assert lines[-1] == f"score: {passed}/{total}"
    return passed, total, results


@pytest.mark.parametrize("chapter", [3, 5, 9])
def test_the_books_chapters_score_full_marks(chapter):
    passed, total, _ = grade(chapter, ROOT / "book")
    assert total >= 3 and passed == total


@pytest.mark.parametrize("chapter", sorted(rebuild.STUBS))
def test_the_untouched_stubs_score_zero(edition, chapter):
    passed, total, results = grade(chapter, edition)
    assert total >= 3 and passed == 0, results


def test_the_edition_keeps_signatures_docstrings_and_checks(edition):
    source = "".join(
        "".join(cell["source"])
        for cell in json.loads((edition / "03_inference.ipynb").read_text())["cells"])
    assert "def __call__(self, x, out=None):" in source
    assert '"""The network\'s output for the batch' in source
    assert "batch, out = self._check_call(x, out)" in source   # the argument check stays
    assert "eng.ger(-1.0, self.bias, ones, a)" not in source   # the answer does not
    assert "def _check_batch(eng, x, rows" in source           # helpers stay whole


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


def test_the_first_layer_writing_into_the_data_fails_its_named_check(tmp_path):
    # the draft's bug: without `if not self.first:` the first layer overwrites the training data
    folder = plant(tmp_path / "data", r"\n( +)if not self\.first:[^\n]*\n +", r"\n\1")
    lines = []
    _, _, results = rebuild.grade(5, folder, out=lines.append)
    assert only_failure(results) == "the training data must not change during training"
    assert "3 from the book, 4 from the book, 5 submitted" in lines[0]
    assert any("the first layer wrote into its input" in line for line in lines)


def test_the_article_bias_sign_fails_its_named_check(tmp_path):
    folder = plant(tmp_path / "sign", r"-self\.bias_sign \* eta_avg",
                   "self.bias_sign * eta_avg")
    lines = []
    _, _, results = rebuild.grade(5, folder, out=lines.append)
    assert only_failure(results) == ("the bias moves against its gradient "
                                     "(gradient check on the bias)")
    assert any("moved along its gradient, not against it" in line for line in lines)


def test_grading_never_touches_the_repositorys_package(edition):
    before = {p: p.read_text() for p in (ROOT / "nnlib").glob("*.py")}
    grade(4, edition)
    assert {p: p.read_text() for p in (ROOT / "nnlib").glob("*.py")} == before
