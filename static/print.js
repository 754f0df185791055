// Print buttons: a listener in a file, not an onclick attribute, because the CSP allows no
// inline script (script-src 'self').
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-print]");
  if (button) {
    window.print();
  }
});
