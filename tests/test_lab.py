"""`make lab`, the README's third command: JupyterLab serves the chapters from .venv, and a
chapter opened in it runs (in headless Chromium, where Chromium and Playwright are installed)."""

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from test_browser import ARTIFACTS, browser  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "nnlib-test"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab started by the Makefile's own recipe, as make expands it, on a copy of book/
    (running cells there saves the notebooks, and the stored outputs must stay as they are);
    its base URL and that copy."""
    home = tmp_path_factory.mktemp("lab-home")
    shutil.copytree(ROOT / "book", home / "book")
    chapter = home / "book" / "02_engines.ipynb"   # the one the browser runs: outputs cleared,
    blank = nbformat.read(chapter, as_version=4)   # so that only JupyterLab can put them back
    for cell in blank.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(blank, chapter)
    recipe = subprocess.run(["make", "--no-print-directory", "-n", "lab", "VENV=" + sys.prefix],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    port = _free_port()
    command = shlex.split(recipe.strip().splitlines()[-1]) + [
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={TOKEN}"]
    # a home of its own, so that JupyterLab's settings stay out of the user's; the system's PATH
    # stays, since PoCL runs the system's linker when it compiles a kernel
    env = dict(os.environ, HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    server = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            reason = server.stderr.read() if server.poll() is not None else "no answer in 90 s"
            pytest.fail(f"JupyterLab did not start: {reason}")
        yield url, home / "book"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_make_lab_serves_every_chapter(lab):
    lab, _ = lab
    with urllib.request.urlopen(f"{lab}/api/contents?token={TOKEN}", timeout=10) as reply:
        served = {item["name"] for item in json.load(reply)["content"]}
    chapters = {path.name for path in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")}
    assert chapters and chapters <= served, served


def _saved_after_running(path):
    """Whether the notebook at ``path`` holds a run of every code cell (it may be mid-write)."""
    try:
        cells = nbformat.read(path, as_version=4).cells
    except Exception:
        return False
    return all(cell.execution_count for cell in cells if cell.cell_type == "code")


def test_a_chapter_runs_in_jupyterlab(lab, browser):
    lab, lab_book = lab
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{lab}/lab/tree/02_engines.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        # either JupyterLab asks for a kernel, or the notebook's own kernel starts by itself
        page.wait_for_function("() => document.querySelector('.jp-Dialog')"
                               " || document.body.textContent.includes('| Idle')",
                               timeout=60_000)
        choose = page.locator(".jp-Dialog button", has_text="Select")
        if choose.count():
            choose.first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # Run All scrolls along with the run: done when the last cell shows its number and the
        # kernel is idle (JupyterLab renders only the cells in view, so look at the last one)
        page.wait_for_function(
            "() => { const cells = document.querySelectorAll('.jp-Notebook .jp-CodeCell');"
            " const last = cells[cells.length - 1];"
            " const prompt = last && last.querySelector('.jp-InputPrompt');"
            " return prompt && /^\\[\\d+\\]:$/.test(prompt.textContent.trim())"
            " && document.body.textContent.includes('| Idle'); }",
            timeout=180_000)
        page.keyboard.press("Control+s")   # then read what JupyterLab ran from the file
        deadline = time.monotonic() + 30
        while not _saved_after_running(lab_book / "02_engines.ipynb"):
            assert time.monotonic() < deadline, "JupyterLab did not save the notebook it ran"
            page.wait_for_timeout(200)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-chapter-2.png"))
        page.close()
    ran = nbformat.read(lab_book / "02_engines.ipynb", as_version=4)
    code = [cell for cell in ran.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), [c.execution_count for c in code]
    assert not any(out.output_type == "error" for cell in code for out in cell.outputs)
    printed = [out.get("text", "") for cell in code for out in cell.outputs]
    assert any("[[ 4.  5.]" in text for text in printed), printed
