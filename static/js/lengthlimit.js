/* Length limits (issue 19 item 6): under a text field with a maximum length, a live count; text beyond the limit
   (typed or pasted) is kept and flagged, never cut without a word, and the server then refuses it with the count.
   The browser's maxlength attribute, which cuts a paste silently, is removed. Texts come from the data- attributes
   of the translated template (templates/bootstrap5/layout/help_text.html). Vanilla JS, no third-party code. */
(function () {
  "use strict";

  function say(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (all, key) { return String(values[key]); });
  }

  function watch(note) {
    var input = document.getElementById(note.getAttribute("data-length-for"));
    if (!input) { return; }
    var max = parseInt(note.getAttribute("data-max"), 10);
    input.removeAttribute("maxlength");
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + note.id).trim());
    function update() {
      var n = input.value.length;
      var over = n - max;
      note.textContent = over > 0 ? say(note.getAttribute("data-too-long"), {n: n, over: over})
        : say(note.getAttribute("data-count"), {n: n});
      note.classList.toggle("text-danger", over > 0);
      note.setAttribute("data-over", over > 0 ? "yes" : "no");
      if (over > 0 && !input.classList.contains("is-invalid")) {
        input.classList.add("is-invalid");
        input.setAttribute("data-length-invalid", "yes");
      } else if (over <= 0 && input.hasAttribute("data-length-invalid")) {  // only the mark this script set
        input.classList.remove("is-invalid");
        input.removeAttribute("data-length-invalid");
      }
    }
    input.addEventListener("input", update);
    if (input.value) { update(); }
  }

  function init() {
    var notes = document.querySelectorAll("[data-length-for]");
    Array.prototype.forEach.call(notes, function (note, i) {
      if (!note.id) { note.id = "length-limit-" + i; }
      watch(note);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
