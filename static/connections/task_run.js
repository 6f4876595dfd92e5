// A run's page while the run is Queued or Running: ask its status every second, show the
// status as it changes, and once the run has ended show its report; then stop asking.
(function () {
  "use strict";
  const box = document.getElementById("run-view");
  const url = box && box.dataset.statusUrl;
  if (!url) return;
  let failures = 0;
  function ask() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then((answer) => {
        failures = 0;
        if (answer.ended) {
          box.innerHTML = answer.html;
          delete box.dataset.statusUrl;
          return;
        }
        const label = document.getElementById("run-status-label");
        if (label) label.textContent = answer.label;
        setTimeout(ask, 1000);
      })
      .catch(() => {
        failures += 1;
        if (failures < 30) setTimeout(ask, 2000);
      });
  }
  setTimeout(ask, 500);
})();
