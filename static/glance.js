// The "details" toggle of a report table: technical columns (design effect, PPI) are hidden
// until the reader opens the details (which also hold the glossary). Without JavaScript every
// column shows. A file, not an inline script: the CSP allows script-src 'self' only.
(function () {
  function sync(details) {
    var table = document.getElementById(details.dataset.technical);
    if (table) {
      table.classList.toggle("hide-technical", !details.open);
    }
  }
  function init(root) {
    root.querySelectorAll("details[data-technical]").forEach(function (details) {
      sync(details);
      details.addEventListener("toggle", function () { sync(details); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
})();
