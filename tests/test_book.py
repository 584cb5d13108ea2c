"""The book builds with Sphinx warnings treated as errors, and every chapter is in it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_book_builds_without_warnings(tmp_path):
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(tmp_path), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "WARNING" not in output, output[-3000:]
    html = tmp_path / "_build" / "html"
    for notebook in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        page = html / "book" / f"{notebook.stem}.html"
        assert page.exists(), f"{notebook.name} was not rendered"
    assert "0.435213" in (html / "book" / "03_inference.html").read_text()
