/* Missing-data codes (issue 19 item 9): a select marked data-missing-for="<field name>" sits beside a CRF field
   that may be left empty with a CDASH code (ND, UNK, NA, NASK; sabr_trial.crf.Missing, the same declaration the
   server applies). While a code is chosen the field is emptied and disabled (so no value is sent beside the code,
   which the server refuses); choosing "(value entered)" enables it again and gives back what was typed.
   Vanilla JS, no third-party code, no inline code (the Content-Security-Policy). */
(function () {
  "use strict";

  function inputsOf(form, name) {
    return form.querySelectorAll('[name="' + name + '"]');
  }

  function apply(form, select) {
    var coded = select.value !== "";
    Array.prototype.forEach.call(inputsOf(form, select.getAttribute("data-missing-for")), function (input) {
      if (coded) {
        if (!input.hasAttribute("data-missing-disabled")) {
          if (input.type === "radio" || input.type === "checkbox") {
            input.setAttribute("data-missing-kept", input.checked ? "yes" : "no");
            input.checked = false;
          } else {
            input.setAttribute("data-missing-kept", input.value);
            input.value = "";
          }
          input.setAttribute("data-missing-disabled", "yes");
        }
        input.disabled = true;
      } else if (input.hasAttribute("data-missing-disabled")) {
        input.disabled = false;
        var kept = input.getAttribute("data-missing-kept") || "";
        if (input.type === "radio" || input.type === "checkbox") {
          input.checked = kept === "yes";
        } else {
          input.value = kept;
        }
        input.removeAttribute("data-missing-disabled");
        input.removeAttribute("data-missing-kept");
      }
    });
  }

  /* Put the code select beside its field (one row: the field, then the small select) instead of on a row of its
     own; its own label and help text are then hidden (the select keeps its aria-label). Without the script the
     select stays on its own labelled row. */
  function besideField(form, select) {
    var name = select.getAttribute("data-missing-for");
    var field = form.querySelector('[name="' + name + '"]');
    var own = document.getElementById("div_id_" + select.name);
    if (!field || !own || field.type === "radio" || field.type === "checkbox") { return; }
    var row = document.createElement("div");
    row.className = "d-flex gap-2 align-items-start missing-row";
    field.parentNode.insertBefore(row, field);
    row.appendChild(field);
    field.classList.add("flex-grow-1");
    select.classList.add("w-auto");
    row.appendChild(select);
    own.classList.add("d-none");
    // The field's error text followed the input as a sibling (Bootstrap shows it after .is-invalid): keep it shown.
    Array.prototype.forEach.call(row.parentNode.querySelectorAll(".invalid-feedback"), function (el) {
      el.classList.add("d-block");
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
      var selects = form.querySelectorAll("select[data-missing-for]");
      Array.prototype.forEach.call(selects, function (select) {
        besideField(form, select);
        apply(form, select);
        select.addEventListener("change", function () { apply(form, select); });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
