/* CTCAE v5.0 term search for the AE form (R6.1, R6.3). Vanilla JS, no third-party code.
   Typing queries the JSON endpoint; choosing a term sets the hidden MedDRA code, shows the grade
   texts of the term and disables the grades that do not exist for it ("-" in CTCAE). */
(function () {
  "use strict";

  function gradeInputs(form) {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="grade"]'));
  }

  function applyTerm(box, term) {
    var form = box.closest("form");
    var chosen = box.querySelector(".ctcae-chosen");
    chosen.textContent = "";
    var inputs = form ? gradeInputs(form) : [];
    inputs.forEach(function (input) {
      var g = input.value;
      var text = term ? term.grades[g] : null;
      var available = !term || text !== null;
      input.disabled = !available;
      if (!available && input.checked) { input.checked = false; }
      var wrapper = input.closest(".form-check") || input.parentElement;
      if (wrapper) {
        wrapper.classList.toggle("text-muted", !available);
        wrapper.setAttribute("data-available", available ? "yes" : "no");
        var note = wrapper.querySelector(".ctcae-grade-text");
        if (!note) {
          note = document.createElement("div");
          note.className = "ctcae-grade-text small";
          wrapper.appendChild(note);
        }
        note.textContent = term ? (available ? text : box.dataset.notAvailable || "not available for this term (R6.3)") : "";
      }
    });
    if (!term) { return; }
    var title = document.createElement("div");
    title.className = "fw-semibold";
    title.textContent = term.term + " (" + term.code + ") · " + term.soc;
    chosen.appendChild(title);
    if (term.definition) {
      var def = document.createElement("div");
      def.className = "text-muted";
      def.textContent = term.definition;
      chosen.appendChild(def);
    }
    if (term.navigational_note) {
      var nav = document.createElement("div");
      nav.className = "text-muted fst-italic";
      nav.textContent = term.navigational_note;
      chosen.appendChild(nav);
    }
    if (term.other_specify) {
      var verb = form && form.querySelector('[name="verbatim"]');
      if (verb) { verb.required = true; verb.focus(); }
    }
  }

  function setup(box) {
    var query = box.querySelector(".ctcae-query");
    var code = box.querySelector(".ctcae-code");
    var list = box.querySelector(".ctcae-results");
    var timer = null;
    var results = [];
    var active = -1;

    function close() { list.hidden = true; query.setAttribute("aria-expanded", "false"); active = -1; }

    function choose(term) {
      code.value = term.code;
      query.value = term.term;
      close();
      applyTerm(box, term);
    }

    function render() {
      list.textContent = "";
      results.forEach(function (term, i) {
        var li = document.createElement("li");
        li.className = "list-group-item list-group-item-action" + (i === active ? " active" : "");
        li.setAttribute("role", "option");
        li.dataset.code = term.code;
        var name = document.createElement("span");
        name.textContent = term.term;
        var soc = document.createElement("small");
        soc.className = "d-block " + (i === active ? "" : "text-muted");
        soc.textContent = term.soc + " · " + term.code + " · G" + term.allowed.join(",");
        li.appendChild(name);
        li.appendChild(soc);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(term); });
        list.appendChild(li);
      });
      list.hidden = results.length === 0;
      query.setAttribute("aria-expanded", results.length ? "true" : "false");
    }

    function search() {
      var q = query.value.trim();
      if (q.length < 2) { results = []; render(); return; }
      fetch(box.dataset.searchUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) {
          if (query.value.trim() !== q) { return; }
          results = data.results || [];
          active = results.length ? 0 : -1;
          render();
        });
    }

    query.addEventListener("input", function () {
      code.value = "";
      applyTerm(box, null);
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    query.addEventListener("keydown", function (e) {
      if (list.hidden) { return; }
      if (e.key === "ArrowDown") { active = Math.min(active + 1, results.length - 1); render(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
      else if (e.key === "Enter" && active >= 0) { choose(results[active]); e.preventDefault(); }
      else if (e.key === "Escape") { close(); }
    });
    query.addEventListener("blur", function () { setTimeout(close, 150); });

    if (query.dataset.term) {
      try { applyTerm(box, JSON.parse(query.dataset.term)); } catch (err) { /* keep the form usable */ }
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".ctcae-search"), function (box) {
      if (!box.dataset.ready) { box.dataset.ready = "1"; setup(box); }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
