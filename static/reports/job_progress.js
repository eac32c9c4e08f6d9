/* Job page: show the build's progress until it is finished (endpoints:report_job_status). */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var bar = document.getElementById("job-bar"), wrap = document.getElementById("job-bar-wrap");
  bar.style.width = wrap.getAttribute("aria-valuenow") + "%";  // no style attribute: the CSP allows none inline
  if (box.dataset.finished === "1") { return; }
  function show(s) {
    bar.style.width = s.progress + "%"; bar.textContent = s.progress + "%"; wrap.setAttribute("aria-valuenow", s.progress);
    document.getElementById("job-stage").textContent = s.stage;
    document.getElementById("job-state").textContent = s.state_label;
    if (s.state === "done") {
      bar.classList.add("bg-success");
      document.getElementById("job-download").href = s.download_url;
      document.getElementById("job-sha").textContent = s.sha256;
      document.getElementById("job-done").hidden = false;
    } else if (s.state === "failed") {
      bar.classList.add("bg-danger");
      document.getElementById("job-error").textContent = s.error;
      document.getElementById("job-failed").hidden = false;
    }
    return s.finished;
  }
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (s) { if (!show(s)) { window.setTimeout(poll, 700); } })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
