// Versions tab: keep at most two versions selected (the newest pick replaces the oldest),
// and point the Restore dialog at the version whose button opened it.
(function () {
  "use strict";
  const picks = [];
  document.querySelectorAll(".version-pick").forEach((box) => box.addEventListener("change", () => {
    const i = picks.indexOf(box);
    if (box.checked) { picks.push(box); if (picks.length > 2) picks.shift().checked = false; }
    else if (i >= 0) picks.splice(i, 1);
  }));
  const modal = document.getElementById("restore-modal");
  if (modal) modal.addEventListener("show.bs.modal", (event) => {
    const button = event.relatedTarget;
    if (!button || !button.dataset.action) return;
    modal.querySelector("form").action = button.dataset.action;
    modal.querySelector(".restore-number").textContent = button.dataset.number;
  });
})();
