"""Every page of the built book, opened in headless Chromium: it loads cleanly, its math is typeset,
its images are there, and the "next" links lead through every chapter in order.

Skips, with the reason, where Chromium or Playwright is missing. Screenshots of a few pages are
kept in _build/test-artifacts/ to look at.
"""

import shutil
from pathlib import Path

import pytest

from test_book import ROOT, toc_pages

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "_build" / "test-artifacts"
# No network here, and none needed: keep Chromium from trying to reach its services.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed "
                    "(apt-get install chromium; tools/setup-system.sh does it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url, width=1440):
    """Load ``url``, wait for MathJax; return the page and the console errors it logged."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console",
            lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_load_state("load")
    page.evaluate("async () => {"
                  " if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
    return page, errors


@pytest.mark.parametrize("name", toc_pages())
def test_page_loads_with_math_and_images(built_book, browser, name):
    _, html = built_book
    page, errors = open_page(browser, (html / f"{name}.html").as_uri())
    try:
        assert errors == [], f"console errors on {name}: {errors}"
        untypeset = page.evaluate("[...document.querySelectorAll('.math')]"
                                  ".filter(m => !m.querySelector('mjx-container')).length")
        assert untypeset == 0, f"{untypeset} formulas on {name} were not typeset"
        assert page.evaluate("document.querySelectorAll('mjx-merror').length") == 0
        broken = page.evaluate("[...document.images]"
                               ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"images that did not load on {name}: {broken}"
        if name in ("book/intro", "book/05_sgd", "book/09_gradient_check"):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{Path(name).name}.png"), full_page=False)
    finally:
        page.close()


def test_chapters_with_plots_show_them(built_book, browser):
    _, html = built_book
    page, _ = open_page(browser, (html / "book" / "08_schedule.html").as_uri())
    try:
        assert page.evaluate("document.querySelectorAll('.cell_output img').length") >= 1
    finally:
        page.close()


def test_next_links_lead_through_every_chapter(built_book, browser):
    _, html = built_book
    visited = []
    url = (html / f"{toc_pages()[0]}.html").as_uri()
    while url and len(visited) < 50:
        page, _ = open_page(browser, url)
        visited.append(page.url.removeprefix(html.as_uri() + "/").removesuffix(".html"))
        link = page.query_selector("a.right-next")
        url = link.evaluate("a => a.href") if link else None
        page.close()
    assert visited == toc_pages()


@pytest.mark.parametrize("name", toc_pages()[1:])
def test_code_lines_show_whole_in_a_1440_pixel_window(built_book, browser, name):
    """No code cell wraps a line (or scrolls) in a 1440-pixel window: see _static/code-width.css."""
    _, html = built_book
    page, _ = open_page(browser, (html / f"{name}.html").as_uri())
    try:
        too_wide = page.evaluate("""[...document.querySelectorAll('.cell_input pre')]
            .filter(pre => {
                pre.style.whiteSpace = 'pre';          // as written, without the wrapping
                return pre.scrollWidth > pre.clientWidth;
            })
            .map(pre => pre.textContent)""")
        assert too_wide == [], f"code lines wider than the column on {name}: {too_wide}"
    finally:
        page.close()
