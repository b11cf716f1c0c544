// Keyboard access the theme and the notebook pages leave out.
//
// 1. A box that scrolls (a wide code block, table or output) takes keyboard
//    focus, so that a reader without a mouse can scroll it with the arrow keys;
//    a notebook output that does not scroll gives its focus up, so that Tab does
//    not stop on every printed paragraph.
// 2. The colour-theme toggle, a radio button under its icon, also switches on
//    Enter and Space (radio buttons otherwise switch only with the arrow keys).
(function () {
  "use strict";

  function scrolls(el) {
    const style = getComputedStyle(el);
    const x = /(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    const y = /(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    return x || y;
  }

  // Only block boxes can scroll: leave out the inline spans of code and
  // equations, which are most of a page's elements.
  const CANDIDATES = "div, pre, code, table, figure";

  function updateScrollers() {
    const article = document.querySelector("article");
    if (!article) return;
    // Read everything first, then write: a write between reads would make the
    // browser lay the page out again for every element.
    const changes = [];
    for (const el of article.querySelectorAll(CANDIDATES)) {
      if (el.closest(".MathJax_Display, .MathJax, svg")) continue;
      const marked = "a11yScroll" in el.dataset;
      const scrolling = scrolls(el);
      if (scrolling && !el.hasAttribute("tabindex")) {
        changes.push([el, true]);
      } else if (!scrolling && (marked || (el.matches(".jp-OutputArea-output") && el.getAttribute("tabindex") === "0"))) {
        changes.push([el, false]);
      }
    }
    for (const [el, focusable] of changes) {
      if (focusable) {
        el.setAttribute("tabindex", "0");
        el.dataset.a11yScroll = "";
      } else {
        el.removeAttribute("tabindex");
        delete el.dataset.a11yScroll;
      }
    }
  }

  let pending = null;
  function schedule() {
    if (pending !== null) clearTimeout(pending);
    pending = setTimeout(function () {
      pending = null;
      updateScrollers();
    }, 100);
  }

  document.addEventListener("keydown", function (event) {
    const el = event.target;
    if (!(el instanceof HTMLInputElement) || !el.classList.contains("md-option")) return;
    if (event.key !== "Enter" && event.key !== " ") return;
    const label = el.parentElement.querySelector("label:not([hidden])");
    if (label) {
      // Before the theme's own handler, which checks the focused radio: the
      // theme already shown.
      event.preventDefault();
      event.stopPropagation();
      label.click();
      const next = document.getElementById(label.htmlFor);
      if (next) next.focus();
    }
  }, true);

  window.addEventListener("load", schedule);
  window.addEventListener("resize", schedule);
  // Material wraps tables in scrolling boxes once a page is shown.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(schedule);
  }
  // After MathJax's first typesetting, inside its queue: a page whose MathJax
  // queue is empty has its scrolling boxes marked.
  if (window.MathJax && window.MathJax.Hub) {
    window.MathJax.Hub.Register.StartupHook("End", function () {
      window.MathJax.Hub.Queue(updateScrollers);
    });
  }
})();
