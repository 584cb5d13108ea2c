"""Code lines are at most 100 characters, so the book's code column and an editor show them whole.

The rendered book's code column holds 100 columns in windows 1440 pixels wide and wider
(_static/code-width.css, checked in tests/test_browser.py); the package, the tests and the tools
keep the same limit.
"""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 100


def code_lines():
    """(where, line) for each line of code in the chapters, the package, the tests and the tools."""
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                for line in cell.source.splitlines():
                    yield f"{path.name}, cell {index}", line
    for folder in ("nnlib", "tests", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                yield f"{path.relative_to(ROOT)}:{number}", line


def test_no_code_line_is_longer_than_the_book_shows():
    long = [f"{where} ({len(line)}): {line}" for where, line in code_lines() if len(line) > LIMIT]
    assert not long, "\n".join(long)
