// MathJax 2.7 settings for every page. MathJax itself is served from the site
// (assets/mathjax/, copied from the jupyter-server-mathjax package by
// hooks/mathjax.py), so equations render with no network.
// Markdown pages hand it \( \) and \[ \] (pymdownx.arithmatex); notebook cells
// keep Jupyter's $ and $$.
window.MathJax = {
  // The package ships only the STIX-Web fonts, and MathJax's combined configuration (TeX input, AMS macros,
  // HTML-CSS output) rather than the separate files.
  config: ["TeX-AMS-MML_HTMLorMML-full.js"],
  tex2jax: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    // mkdocs-jupyter keeps each code cell's text in a hidden div for its copy
    // button: typesetting a "$" there would garble the code a reader copies.
    ignoreClass: "tex2jax_ignore|clipboard-copy-txt"
  },
  "HTML-CSS": {
    availableFonts: ["STIX-Web"],
    preferredFont: "STIX-Web",
    webFont: "STIX-Web",
    imageFont: null,
    linebreaks: { automatic: true },
    // MathJax measures text against a font that never loads, declared at
    // url('about:blank'), which Chromium reports as a console error. A local()
    // source that does not exist fails the same way, silently.
    styles: { "@font-face": { "font-family": "MathJax_Blank", src: "local('MathJax_Blank')" } }
  },
  // Screen readers: the combined configuration loads MathJax's AssistiveMML
  // extension, which puts a MathML copy of each equation beside the rendering
  // (hidden from sight; the rendering is hidden from screen readers). Equations
  // are not Tab stops: with the menu off, focusing one does nothing.
  menuSettings: { assistiveMML: true, inTabOrder: false },
  showMathMenu: false,
  messageStyle: "none"
};
