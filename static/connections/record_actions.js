// The Copy dialog: the copy is made without leaving the page, so a refused name (taken,
// blank) is shown in the dialog, which stays open with the name typed.
(function () {
  "use strict";
  const modal = document.getElementById("copy-modal");
  if (!modal) return;
  const form = modal.querySelector("form");
  const input = document.getElementById("copy-name");
  const error = document.getElementById("copy-error");
  const button = form.querySelector("[type=submit]");
  const ui = window.consoleBusy;

  function refuse(message) {
    if (window.recordForm) window.recordForm.stay();
    if (ui) ui.idle(button);
    delete form.dataset.busy;
    input.classList.add("is-invalid");
    error.textContent = message;
    input.focus();
    input.select();
  }

  input.addEventListener("input", () => input.classList.remove("is-invalid"));
  modal.addEventListener("hidden.bs.modal", () => input.classList.remove("is-invalid"));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    if (ui) ui.busy(button);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok && answer.url) {
        window.location.assign(answer.url);
        return;
      }
      refuse(answer.error || "The copy was not made (the server answered " + response.status + ").");
    } catch (failure) {
      refuse("The copy was not made: the server could not be reached.");
    }
  });
})();
