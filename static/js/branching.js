/* Branching (issue 19 item 8): a CRF field marked data-branch-field="<controlling field>" and
   data-branch-values='["Y"]' applies only while the controlling field has one of those values.
   The field's wrapper is hidden (class d-none, no inline style: the Content-Security-Policy) and its
   inputs disabled while it does not apply, so the browser never sends a value the server refuses
   (sabr_trial.crf.Branch, the same declaration). A container marked data-branch-block (a section of a page
   that the server ignores unless the field applies, e.g. the assessment's lesion grid) is only hidden.
   Vanilla JS, no third-party code. */
(function () {
  "use strict";

  function currentValue(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.type === "radio") {
        if (input.checked) { return input.value; }
      } else if (input.type === "checkbox") {
        return input.checked ? "True" : "False";
      } else {
        return input.value;
      }
    }
    return "";
  }

  function wrapperOf(input) {
    return document.getElementById("div_id_" + input.name) || input.closest(".mb-3") || input.parentElement;
  }

  function apply(form) {
    var inputs = form.querySelectorAll("[data-branch-field]");
    Array.prototype.forEach.call(inputs, function (input) {
      var values = JSON.parse(input.getAttribute("data-branch-values") || "[]");
      var shown = values.indexOf(currentValue(form, input.getAttribute("data-branch-field"))) !== -1;
      if (input.hasAttribute("data-branch-block")) {
        input.classList.toggle("d-none", !shown);
        input.setAttribute("data-branch-shown", shown ? "yes" : "no");
        return;
      }
      var wrapper = wrapperOf(input);
      if (wrapper) {
        wrapper.classList.toggle("d-none", !shown);
        wrapper.setAttribute("data-branch-shown", shown ? "yes" : "no");
      }
      if (!shown && !input.disabled) {
        input.disabled = true;
        input.setAttribute("data-branch-disabled", "yes");
      } else if (shown && input.hasAttribute("data-branch-disabled")) {
        input.disabled = false;
        input.removeAttribute("data-branch-disabled");
      }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
      if (!form.querySelector("[data-branch-field]")) { return; }
      apply(form);
      form.addEventListener("change", function () { apply(form); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
