"""The book builds with Sphinx warnings treated as errors, and every chapter is in it."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def toc_pages():
    """The pages of _toc.yml, in reading order (paths without suffix, relative to the root)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for chapter in toc["chapters"]]


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "WARNING" not in output, output[-3000:]
    for page in toc_pages():
        assert (html / f"{page}.html").exists(), f"{page} was not rendered"
    assert "0.435213" in (html / "book" / "03_inference.html").read_text()


def test_every_chapter_notebook_is_in_the_table_of_contents():
    chapters = {f"book/{notebook.stem}" for notebook in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")}
    assert chapters == set(toc_pages()[1:])


def test_the_math_is_served_with_the_book(built_book):
    _, html = built_book
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert "_static/mathjax/tex-chtml.js" in (html / "book" / "09_gradient_check.html").read_text()


def test_every_chapter_offers_its_notebook_for_download(built_book):
    _, html = built_book
    for page in toc_pages()[1:]:
        name = page.split("/")[-1]
        assert f'href="../_sources/book/{name}.ipynb"' in (html / f"{page}.html").read_text(), page
        assert (html / "_sources" / "book" / f"{name}.ipynb").exists(), page
