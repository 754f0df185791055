// The reviewer's page from the keyboard. No framework: htmx posts the forms and swaps #item;
// this file only maps keys to form controls and measures the time spent on an item.
(function () {
  "use strict";
  var started = performance.now();
  var busy = false;

  function $(id) { return document.getElementById(id); }

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" &&
      ["radio", "checkbox", "submit", "button", "hidden", "reset"].indexOf(el.type) === -1;
  }

  function tick() {
    var timer = $("timer");
    if (!timer) return;
    var s = Math.floor((performance.now() - started) / 1000);
    timer.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  setInterval(tick, 1000);

  function showKeys(show) {
    var keys = $("keys");
    if (keys) keys.hidden = show === undefined ? !keys.hidden : !show;
  }

  function pick(input) {
    input.checked = input.type === "checkbox" ? !input.checked : true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function submit(form) {
    if (!form || busy) return;
    // htmx binds new content when it settles, 20 ms after the swap; a key pressed in between
    // would submit the fresh form natively (a full page load, and undo would lose the verdict
    // it brings back). Binding it now is what htmx would do a moment later.
    if (window.htmx) window.htmx.process(form);
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
  }

  // Runs before htmx's own submit handler (capture phase), so the value travels with the post.
  document.addEventListener("submit", function (event) {
    var field = event.target.querySelector && event.target.querySelector('input[name="time_spent_ms"]');
    if (field) field.value = String(Math.round(performance.now() - started));
  }, true);

  document.addEventListener("htmx:beforeRequest", function () { busy = true; });
  document.addEventListener("htmx:afterRequest", function () { busy = false; });
  document.addEventListener("htmx:afterSwap", function () {
    busy = false;
    started = performance.now();
    tick();
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var form = $("rubric");
    if (event.key === "Escape") {
      showKeys(false);
      var box = $("skip-box");
      if (box) box.open = false;
      if (typing(target)) target.blur();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && form && form.contains(target)) {
      event.preventDefault();
      submit(form);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(target)) return;
    if (busy) { event.preventDefault(); return; }

    if (event.key === "?") { event.preventDefault(); showKeys(); return; }
    if (event.key === "Enter") {
      // A focused button or link does its own thing; anywhere else Enter submits the rubric.
      if (!form || target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SUMMARY") return;
      event.preventDefault();
      submit(form);
      return;
    }
    if (event.key === "u") {
      var undo = $("undo");
      if (undo) { event.preventDefault(); submit(undo); }
      return;
    }
    if (!form) return;
    if (event.key === "s") {
      var skipBox = $("skip-box");
      if (skipBox) {
        event.preventDefault();
        skipBox.open = true;
        $("skip-reason").focus();
      }
      return;
    }
    if (event.key === "r") {
      var raws = document.querySelectorAll("#item details.raw");
      var open = raws.length && !raws[0].open;
      raws.forEach(function (d) { d.open = open; });
      return;
    }
    if (event.shiftKey && /^Digit[1-5]$/.test(event.code)) {
      var score = form.querySelector('input[data-shift-key="' + event.code.slice(5) + '"]');
      if (score) { event.preventDefault(); pick(score); }
      return;
    }
    var input = form.querySelector('input[data-key="' + CSS.escape(event.key.toLowerCase()) + '"]');
    if (input) { event.preventDefault(); pick(input); }
  });
})();
