"""Every page of the built book, opened in headless Chromium: it loads cleanly, its math is typeset,
and its images are there. Every page reads
on a phone too (390 pixels wide): no formula or code is cut off, wrapped code keeps its
indentation, outputs do not wrap. And axe-core, the accessibility checker (vendored in
tests/axe-core/), finds nothing of serious or critical impact, at either width.

Skips, with the reason, where Chromium or Playwright is missing. Screenshots of a few pages are
kept in _build/test-artifacts/ to look at.
"""

import shutil
from pathlib import Path

import pytest

from test_book import ROOT, toc_pages

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "_build" / "test-artifacts"
AXE = Path(__file__).parent / "axe-core" / "axe.min.js"
PHONE = 390   # CSS pixels: a phone held upright
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
    page = browser.new_page(viewport={"width": width, "height": 900 if width > PHONE else 844})
    errors = []
    page.on("console",
            lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_load_state("load")
    page.evaluate("async () => {"
                  " if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
    return page, errors


# axe-core runs on every page at a phone's width (test_page_reads_on_a_phone). At 1440 pixels the
# pages add only what the theme's templates show in wide windows (the sidebars, the header's
# search field), the same on every page: three pages check it, a landing page, the longest
# chapter and a Markdown page, which saves a run of axe (about 2 s) on each of the others.
WIDE_CHECKED = ("book/intro", "book/12_inside_the_engine", "book/teachers")


def accessibility_violations(page):
    """axe-core's violations of serious or critical impact on ``page``, and of the rule "region"
    (content outside every landmark, moderate), which the book's templates fix
    (tools/sphinx/templates/), as 'rule (impact): where' lines."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const found = await axe.run(document, {resultTypes: ['violations']});
        return found.violations
            .filter(v => ['serious', 'critical'].includes(v.impact) || v.id === 'region')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join('; ')}`);
    }""")


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
        # No code cell wraps a line (or scrolls) in a 1440-pixel window: _static/code-width.css
        too_wide = page.evaluate("""[...document.querySelectorAll('.cell_input pre')]
            .filter(pre => {
                pre.style.whiteSpace = 'pre';          // as written, without the wrapping
                const wide = pre.scrollWidth > pre.clientWidth;
                pre.style.whiteSpace = '';
                return wide;
            })
            .map(pre => pre.textContent)""")
        assert too_wide == [], f"code lines wider than the column on {name}: {too_wide}"
        if name in WIDE_CHECKED:
            assert accessibility_violations(page) == [], name
        if name in ("book/intro", "book/05_sgd", "book/09_gradient_check"):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{Path(name).name}.png"), full_page=False)
    finally:
        page.close()


# Formulas and code that do not fit the column either scroll, from their left edge, or are cut
# off: the second is a failure. A box that clips (overflow hidden) must hold what it shows; one
# that scrolls must start its content at its left edge, where scrolling starts.
CUT_OFF = """() => {
    const problems = [];
    const where = el => (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    const cutOff = (el, rect) => {             // rect: the left and right edges of the content
        for (let box = el; box && box !== document.documentElement; box = box.parentElement) {
            const overflow = getComputedStyle(box).overflowX;
            if (overflow === 'visible') continue;
            const edge = box.getBoundingClientRect();
            if (rect.left < edge.left - 1) return true;               // out of reach, left
            if (overflow === 'auto' || overflow === 'scroll') rect = edge;   // the rest scrolls
            else if (rect.right > edge.right + 1) return true;        // cut off, right
        }
        return rect.left < -1 || rect.right > window.innerWidth + 1;
    };
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
        problems.push(`the page scrolls sideways, ${document.documentElement.scrollWidth} px`);
    for (const formula of document.querySelectorAll('mjx-container')) {
        const math = formula.querySelector('mjx-math');
        if (math && math.getClientRects().length && cutOff(formula, math.getBoundingClientRect()))
            problems.push(`formula cut off: ${where(formula)}`);
    }
    for (const pre of document.querySelectorAll('pre')) {
        if (!pre.getClientRects().length) continue;                   // not shown
        const left = pre.getBoundingClientRect().left;
        if (cutOff(pre, {left, right: left + pre.scrollWidth}))
            problems.push(`code cut off: ${where(pre)}`);
    }
    return problems;
}"""

# Source code wraps at a phone's width, and a wrapped line continues right of where the line's
# code starts (tools/sphinx/code_lines.py, _static/code-width.css): found from the position of
# every character of a wrapped line. Outputs never wrap: they scroll.
WRAPPED = """() => {
    const problems = [];
    const at = (node, i) => {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        return range.getBoundingClientRect();
    };
    for (const pre of document.querySelectorAll('div.highlight pre')) {
        if (!pre.getClientRects().length) continue;
        if (pre.closest('.cell_output')) {
            const shown = pre.scrollHeight;
            pre.style.whiteSpace = 'pre';
            const unwrapped = pre.scrollHeight;
            pre.style.whiteSpace = '';
            if (shown > unwrapped + 1)
                problems.push(`output wraps: ${pre.textContent.slice(0, 60)}`);
            continue;
        }
        const lines = [[]];                    // [text node, offset] of every character, by line
        const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode())
            for (let i = 0; i < node.data.length; i++)
                if (node.data[i] === '\\n') lines.push([]);
                else lines[lines.length - 1].push([node, i]);
        for (const chars of lines) {
            if (chars.length < 2) continue;
            let row = at(...chars[0]).top;
            if (at(...chars[chars.length - 1]).top <= row + 1) continue;      // not wrapped
            const code = at(...chars.find(([node, i]) => node.data[i] !== ' ')).left;
            for (const [node, i] of chars) {
                const box = at(node, i);
                if (box.top <= row + 1) continue;
                row = box.top;                                              // a new row
                if (box.left <= code + 1) {
                    const text = chars.map(([n, j]) => n.data[j]).join('').trim();
                    problems.push(`wrapped to its own indentation or less: ${text.slice(0, 60)}`);
                    break;
                }
            }
        }
    }
    return problems;
}"""


@pytest.mark.parametrize("name", toc_pages())
def test_page_reads_on_a_phone(built_book, browser, name):
    """At 390 pixels, with every solution opened: nothing cut off, wrapped code indented, outputs
    unwrapped, and nothing axe-core reports as serious or critical."""
    _, html = built_book
    page, _ = open_page(browser, (html / f"{name}.html").as_uri(), width=PHONE)
    try:
        page.evaluate("""async () => {
            document.querySelectorAll('.toggle-hidden')
                .forEach(e => e.classList.remove('toggle-hidden'));
            document.querySelectorAll('details').forEach(d => { d.open = true; });
            // two frames: what watches sizes (_static/reading.js) sees the opened solutions
            await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
        }""")
        assert page.evaluate(CUT_OFF) == [], name
        assert page.evaluate(WRAPPED) == [], name
        assert accessibility_violations(page) == [], name
    finally:
        page.close()


def test_chapters_with_plots_show_them(built_book, browser):
    _, html = built_book
    page, _ = open_page(browser, (html / "book" / "08_schedule.html").as_uri())
    try:
        assert page.evaluate("document.querySelectorAll('.cell_output img').length") >= 1
    finally:
        page.close()
