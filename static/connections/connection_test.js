// Test: post the form's current values (unsaved changes included) and show the report inline.
(function () {
  "use strict";
  const button = document.getElementById("test-button");
  const panel = document.getElementById("test-panel");
  const form = document.getElementById("record-form");
  if (!button || !panel || !form) return;
  const report = document.getElementById("test-report");
  const recipient = document.getElementById("test-recipient");
  const send = document.getElementById("test-send");

  async function run(withRecipient) {
    panel.classList.remove("d-none");
    if (withRecipient && !recipient.value.trim()) {
      recipient.focus();
      report.innerHTML = '<div class="alert alert-warning py-2 mb-0">Give a test recipient to send a test mail.</div>';
      return;
    }
    const data = new FormData(form);
    if (withRecipient) data.set("recipient", recipient.value.trim());
    button.disabled = send.disabled = true;
    report.innerHTML = '<div class="text-muted" id="test-running"><span class="spinner-border spinner-border-sm"></span> Testing…</div>';
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") },
        credentials: "same-origin",
      });
      report.innerHTML = await response.text();
    } catch (error) {
      report.innerHTML = '<div class="alert alert-danger py-2 mb-0">The test could not be run: ' + error + "</div>";
    } finally {
      button.disabled = send.disabled = false;
      panel.scrollIntoView({ block: "nearest" });
    }
  }

  button.addEventListener("click", () => run(false));
  send.addEventListener("click", () => run(true));
})();
