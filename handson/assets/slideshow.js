// Start reveal.js: 16:9 by default, 4:3 with ?aspect=4:3; KaTeX renders the math offline.
(function () {
  var params = new URLSearchParams(window.location.search);
  var narrow = params.get("aspect") === "4:3";
  Reveal.initialize({
    width: narrow ? 960 : 1280,
    height: 720,
    margin: 0.04,
    center: false,        // remark's `class: middle` centres a slide, not the whole deck
    display: "flex",
    hash: true,           // `name:` gives deep links: slides.html#/name
    slideNumber: "c/t",   // `count: false` slides are data-visibility="uncounted"
    transition: "none",
    pdfSeparateFragments: false,  // ?print-pdf: one page per slide, its steps shown complete
    pdfMaxPagesPerSlide: 1,       // a slide too tall is cut, not spread over pages (preflight reports it)
    plugins: [RevealNotes],
  });
  var math = {
    delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  };
  renderMathInElement(document.querySelector(".reveal"), math);
  document.documentElement.dataset.mathRendered = "true";
})();
