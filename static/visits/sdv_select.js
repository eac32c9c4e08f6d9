// The SDV list: a header checkbox selects every form on the page; the button shows how many are selected.
(function () {
  "use strict";
  var all = document.querySelector("[data-sdv-all]");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("[data-sdv-row]"));
  var counter = document.querySelector("[data-sdv-count]");
  function update() {
    var n = boxes.filter(function (b) { return b.checked; }).length;
    if (counter) { counter.textContent = String(n); }
    if (all) {
      all.checked = boxes.length > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }
  if (all) {
    all.disabled = boxes.length === 0;
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
  }
  boxes.forEach(function (b) { b.addEventListener("change", update); });
  update();
}());
