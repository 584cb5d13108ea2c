// What reading.css cannot decide alone: which boxes scroll sideways.
(() => {
  // A figure that keeps its own size on a phone scrolls sideways there. Like the theme's
  // scrolling code blocks, it then takes the keyboard's focus, so that it can be scrolled
  // without a mouse, and gives it up when it fits (axe-core's rule
  // "scrollable-region-focusable").
  const figures = () => {
    for (const figure of document.querySelectorAll("div.cell_output > img.legible-figure")) {
      const box = figure.parentElement;
      box.tabIndex = box.scrollWidth > box.clientWidth ? 0 : -1;
    }
  };
  // An inline formula wider than its line is marked "wide", and scrolls: the theme would clip it.
  // (Only those: every inline formula overhangs its box by a few pixels, which must not scroll.)
  // Each is measured again whenever its size changes: when a solution that holds it is opened,
  // when the window is resized.
  const measure = (formula) => {
    const math = formula.querySelector("mjx-math");
    if (!math || !formula.getClientRects().length) return;
    formula.classList.toggle("wide", math.getBoundingClientRect().width > formula.clientWidth + 1);
  };
  const watch = new ResizeObserver((entries) => entries.forEach((entry) => measure(entry.target)));
  const formulas = () => {
    for (const formula of document.querySelectorAll("span.math")) {
      measure(formula);
      watch.observe(formula);
    }
  };
  window.addEventListener("load", () => {
    figures();
    formulas();
    const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise;
    if (typeset) typeset.then(formulas);
  });
  window.addEventListener("resize", figures);
})();
