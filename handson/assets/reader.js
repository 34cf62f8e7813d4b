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
// Sortable tables (the demos page): a click on a heading sorts by that column, a second reverses.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headings = table.querySelectorAll("thead th");
    headings.forEach(function (th, column) {
      th.style.cursor = "pointer";
      th.title = "Sort by this column";
      th.addEventListener("click", function () {
        var numeric = th.dataset.sort === "number";
        var descending = th.getAttribute("aria-sort") === "ascending";
        var key = function (row) {
          var cell = row.cells[column], value = cell.dataset.sort || cell.textContent.trim();
          return numeric ? parseFloat(value) : value.toLowerCase();
        };
        var body = table.tBodies[0];
        Array.from(body.rows).sort(function (a, b) {
          var x = key(a), y = key(b);
          return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
        }).forEach(function (row) { body.appendChild(row); });
        headings.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      });
    });
  });
});
