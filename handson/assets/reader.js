// Render the math that pymdownx.arithmatex left as \( \) and \[ \] (KaTeX, offline).
document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
  document.documentElement.dataset.mathRendered = "true";
});
