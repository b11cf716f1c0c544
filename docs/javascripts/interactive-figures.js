// Interactive figures (attention/book/interactive.py): each .interactive-figure holds a
// Vega-Lite specification, data included, computed by the chapter at build time. This
// script only draws it, with the Vega bundle the site serves itself (assets/vega/),
// loaded the first time a page has a figure. Until then, and without JavaScript or in
// print, the figure's static SVG of its default state is what shows.
(function () {
  "use strict";
  const bundleUrl = new URL("../assets/vega/vega-bundle.js", document.currentScript.src).href;
  let bundle = null;

  function loadBundle() {
    if (window.vegaEmbed) return Promise.resolve();
    if (!bundle) {
      bundle = new Promise(function (resolve, reject) {
        const script = document.createElement("script");
        script.src = bundleUrl;
        script.onload = resolve;
        script.onerror = function () { reject(new Error("could not load " + bundleUrl)); };
        document.head.appendChild(script);
      });
    }
    return bundle;
  }

  async function draw(figure) {
    if (figure.dataset.state) return;  // drawn already, or being drawn
    figure.dataset.state = "loading";
    await loadBundle();
    const spec = JSON.parse(figure.querySelector("script.interactive-figure-spec").textContent);
    const live = document.createElement("div");
    live.className = "interactive-figure-live";
    figure.appendChild(live);
    const result = await window.vegaEmbed(live, spec, { renderer: "svg", actions: false });
    figure.view = result.view;  // the browser test reads the drawn frame through it
    figure.dataset.state = "live";
  }

  function drawAll() {
    document.querySelectorAll(".interactive-figure").forEach(function (figure) {
      draw(figure).catch(function (error) {
        figure.dataset.state = "failed";
        console.error("interactive figure:", error);
      });
    });
  }

  // Material's instant navigation swaps pages without a reload and announces each new
  // page on document$; without it, the page is ready once the DOM is.
  if (window.document$) window.document$.subscribe(drawAll);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
