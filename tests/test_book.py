"""The book builds with warnings as errors, every chapter is in it, in order, each can be taken
away, and its pictures say in words what they show."""

import html as entities
import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import build_book

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "sphinx"))
from launch_links import find_branch, find_repository, github_url  # noqa: E402


def toc_pages():
    """The pages of _toc.yml, in reading order (paths without suffix, relative to the root)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = toc.get("parts", [{"chapters": toc.get("chapters", [])}])
    return [toc["root"]] + [chapter["file"] for part in parts for chapter in part["chapters"]]


def chapter_pages():
    """The chapter notebooks among the pages (not the introduction or the teachers' page)."""
    return [page for page in toc_pages() if re.fullmatch(r"book/[0-9][0-9]_\w+", page)]


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "WARNING" not in output, output[-3000:]
    for page in toc_pages():
        assert (html / f"{page}.html").exists(), f"{page} was not rendered"
    assert "0.435213" in (html / "book" / "03_inference.html").read_text()


def test_next_links_lead_through_every_chapter(built_book):
    """Each page's "next" link leads to the next page of _toc.yml, and the last page has none."""
    _, html = built_book
    pages = toc_pages()
    for page, following in zip(pages, pages[1:] + [None]):
        text = (html / f"{page}.html").read_text()
        link = re.search(r'<a[^>]*class="right-next"[^>]*href="([^"]+)"', text) or re.search(
            r'<a[^>]*href="([^"]+)"[^>]*class="right-next"', text)
        target = link and (html / page).parent.joinpath(link[1]).resolve()
        assert target == (following and (html / f"{following}.html").resolve()), page


# a plot's alt text is its cell's "mystnb": {"image": {"alt": "..."}}
@pytest.mark.parametrize("page", toc_pages())
def test_every_figure_says_what_it_shows(built_book, page):
    """Every picture has alt text, in words (a sentence or more), not the name of its file."""
    _, html = built_book
    text = (html / f"{page}.html").read_text()
    for image in re.findall(r"<img\b[^>]*>", text):
        alt = re.search(r'\balt="([^"]*)"', image)
        words = alt[1].split() if alt else []
        assert len(words) >= 8 and not re.search(r"\.(png|svg|jpe?g)$", alt[1]), (page, image)


def test_every_written_answer_has_its_place_marked(built_book):
    """A written answer's cell is the notebook's (a page cannot hold it); the page marks its place
    with a note that says so (tools/sphinx/written_answers.py)."""
    _, html = built_book
    for page in chapter_pages():
        cells = json.loads((ROOT / f"{page}.ipynb").read_text())["cells"]
        written = [c for c in cells if c["cell_type"] == "markdown"
                   and c["metadata"].get("classroom", {}).get("role") == "answer"]
        marks = (html / f"{page}.html").read_text().count('<div class="written-answer')
        assert marks == len(written), page


def test_code_on_the_pages_is_the_code_of_the_cells(built_book):
    """Each line of code is an element of its own on the page (tools/sphinx/code_lines.py), and
    the page's text is still the cell's source, character for character: what a reader copies."""
    _, html = built_book
    page = "book/04_training"
    text = (html / f"{page}.html").read_text()
    shown = [entities.unescape(re.sub(r"<[^>]*>", "", pre)).rstrip("\n") for pre in re.findall(
        r'<div class="cell_input.*?<pre>(.*?)</pre>', text, re.S)]
    cells = json.loads((ROOT / f"{page}.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"
               and "remove-cell" not in c["metadata"].get("tags", [])]
    assert shown == sources
    assert text.count('<span class="line"') >= sum(s.count("\n") + 1 for s in sources)


def test_every_chapter_notebook_is_in_the_table_of_contents():
    chapters = {f"book/{notebook.stem}" for notebook in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")}
    assert chapters == set(chapter_pages())


def test_the_math_is_served_with_the_book(built_book):
    _, html = built_book
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert "_static/mathjax/tex-chtml.js" in (html / "book" / "09_gradient_check.html").read_text()


def test_every_chapter_offers_its_notebook_for_download(built_book):
    _, html = built_book
    for page in chapter_pages():
        name = page.split("/")[-1]
        text = (html / f"{page}.html").read_text()
        assert f'href="../_sources/book/{name}.ipynb"' in text, page
        # the download carries the install cell (see test_standalone.py); the page does not show it
        assert "install_nnlib" in (html / "_sources" / "book" / f"{name}.ipynb").read_text(), page
        assert "install_nnlib" not in text, page


def test_the_github_repository_is_recognized_in_each_form_of_remote():
    for remote in ("https://github.com/someone/nnlib-book",
                   "https://github.com/someone/nnlib-book.git",
                   "git@github.com:someone/nnlib-book.git",
                   "ssh://git@github.com/someone/nnlib-book/"):
        assert github_url(remote) == "https://github.com/someone/nnlib-book", remote
    for remote in ("/srv/git/nnlib-book", "https://gitlab.com/someone/nnlib-book", ""):
        assert not github_url(remote), remote


def test_the_repository_is_looked_up_in_order(tmp_path):
    actions = {"GITHUB_REPOSITORY": "ci/nnlib-book", "GITHUB_REF_NAME": "pages"}
    told = {**actions, "NNLIB_BOOK_REPOSITORY": "https://github.com/c/d/"}
    assert find_repository(tmp_path, "https://github.com/a/b", told) == "https://github.com/c/d"
    assert find_repository(tmp_path, "https://github.com/a/b", actions) == "https://github.com/a/b"
    assert find_repository(tmp_path, "", actions) == "https://github.com/ci/nnlib-book"
    # not a clone: no repository, so no Colab button
    assert find_repository(tmp_path, "", {}) == ""
    assert find_branch(tmp_path, actions) == "pages"
    assert find_branch(tmp_path, {}) == "main"


def test_each_chapter_gets_a_colab_button_where_the_repository_is_known(built_book, tmp_path):
    # the book as built for the other tests has the button exactly where its clone is on GitHub
    _, html = built_book
    expected = bool(find_repository(ROOT))
    colab = "https://colab.research.google.com/github/"
    assert (colab in (html / "book" / "05_sgd.html").read_text()) == expected

    env = {**os.environ, "NNLIB_BOOK_REPOSITORY": "https://github.com/someone/nnlib-book",
           "NNLIB_BOOK_BRANCH": "stable"}
    result, html = build_book(tmp_path, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    for page in chapter_pages():
        link = f'href="{colab}someone/nnlib-book/blob/stable/{page}.ipynb"'
        assert link in (html / f"{page}.html").read_text(), page
