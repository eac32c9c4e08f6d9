/* Branching (issue 19 item 8): a CRF field marked data-branch-field="<controlling field>" and
   data-branch-values='["Y"]' applies only while the controlling field has one of those values.
   The field's wrapper is hidden (class d-none, no inline style: the Content-Security-Policy) and its
   inputs disabled while it does not apply, so the browser never sends a value the server refuses
   (sabr_trial.crf.Branch, the same declaration). A container marked data-branch-block (a section of a page
   that the server ignores unless the field applies, e.g. the assessment's lesion grid) is only hidden.
   A change that would hide a field holding a value first asks, as REDCap does, whether to erase it (text from the
   form's data-branch-erase attribute): yes erases it, no puts the changed answer back. Vanilla JS, no
   third-party code. */
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
      var value = currentValue(form, input.getAttribute("data-branch-field"));
      var shown = values.indexOf(value) !== -1 || (values.indexOf("*") !== -1 && value.trim() !== "");
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
      // The field's missing-data code select (static/js/missing.js) applies with it: disabled, so not sent.
      var code = input.getAttribute("data-missing-code");
      var codeSelect = code ? form.querySelector('[name="' + code + '"]') : null;
      if (codeSelect) { codeSelect.disabled = !shown; }
      if (!shown && !input.disabled) {
        input.disabled = true;
        input.setAttribute("data-branch-disabled", "yes");
      } else if (shown && input.hasAttribute("data-branch-disabled")) {
        input.disabled = false;
        input.removeAttribute("data-branch-disabled");
      }
    });
  }

  function appliesNow(form, element) {
    var values = JSON.parse(element.getAttribute("data-branch-values") || "[]");
    var value = currentValue(form, element.getAttribute("data-branch-field"));
    return values.indexOf(value) !== -1 || (values.indexOf("*") !== -1 && value.trim() !== "");
  }

  function holdsValue(input) {
    if (input.type === "hidden" || input.type === "submit" || input.type === "button") { return false; }
    if (input.type === "radio" || input.type === "checkbox") { return input.checked; }
    if (input.tagName === "SELECT") {  // a choice without a blank option cannot be erased: its default is no entry
      return input.value !== "" && !!input.querySelector('option[value=""]');
    }
    return input.value.trim() !== "";
  }

  function erase(input) {
    if (input.type === "radio" || input.type === "checkbox") { input.checked = false; } else { input.value = ""; }
  }

  function labelOf(input) {
    var label = input.id ? document.querySelector('label[for="' + input.id + '"]') : null;
    if (!label && input.closest("fieldset")) { label = input.closest("fieldset").querySelector("legend"); }
    var text = label ? label.textContent : (input.getAttribute("aria-label") || input.name);
    return text.replace(/\*/g, "").trim();
  }

  function losing(form) {
    /* Inputs shown now that the current answers hide, and that hold a value. */
    var out = [];
    Array.prototype.forEach.call(form.querySelectorAll("[data-branch-field]"), function (element) {
      if (element.getAttribute("data-branch-shown") === "no" || appliesNow(form, element)) { return; }
      var inputs = element.hasAttribute("data-branch-block")
        ? Array.prototype.slice.call(element.querySelectorAll("input, select, textarea")) : [element];
      inputs.forEach(function (input) { if (holdsValue(input)) { out.push(input); } });
    });
    return out;
  }

  function remember(form) {
    var seen = {};
    Array.prototype.forEach.call(form.querySelectorAll("[data-branch-field]"), function (element) {
      var name = element.getAttribute("data-branch-field");
      seen[name] = currentValue(form, name);
    });
    form.branchAnswers = seen;
  }

  function putBack(form, name) {
    var previous = (form.branchAnswers || {})[name];
    if (previous === undefined) { return; }
    Array.prototype.forEach.call(form.querySelectorAll('[name="' + name + '"]'), function (input) {
      if (input.type === "radio") { input.checked = input.value === previous; } else { input.value = previous; }
    });
  }

  function onChange(form, event) {
    var name = event.target && event.target.name;
    if (name && form.branchAnswers && name in form.branchAnswers) {
      var lost = losing(form);
      if (lost.length) {
        var names = lost.map(labelOf).filter(function (v, i, all) { return all.indexOf(v) === i; }).join(", ");
        var question = (form.getAttribute("data-branch-erase") ||
          "%(fields)s no longer applies. Erase the value entered there?").replace("%(fields)s", names);
        if (window.confirm(question)) {
          lost.forEach(erase);
          for (var i = 0; i < 5; i++) {  // a field that applied only because of an erased value goes with it
            var more = losing(form);
            if (!more.length) { break; }
            more.forEach(erase);
          }
        } else {
          putBack(form, name);
        }
      }
    }
    apply(form);
    remember(form);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
      if (!form.querySelector("[data-branch-field]")) { return; }
      apply(form);
      remember(form);
      form.addEventListener("change", function (event) { onChange(form, event); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
