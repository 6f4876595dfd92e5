// Every page: a spinner on the button of a form that waits on the server (and no second
// submit meanwhile), a bar across the top while any other page loads (a link, a filter),
// and the first field of a dialog focused when it opens.
(function () {
  "use strict";
  const SPINNER = '<span class="spinner-border spinner-border-sm me-1 busy-spinner" aria-hidden="true"></span>';

  function busy(button) {
    if (!button || button.classList.contains("busy")) return;
    button.classList.add("busy", "disabled");
    button.setAttribute("aria-disabled", "true");
    button.insertAdjacentHTML("afterbegin", SPINNER);
  }

  function idle(button) {
    button.classList.remove("busy", "disabled");
    button.removeAttribute("aria-disabled");
    button.querySelectorAll(".busy-spinner").forEach((spinner) => spinner.remove());
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.busy) {
      event.preventDefault();
      return;
    }
    // After every handler has run: a form another script sends itself is not marked here
    // (and a button disabled now would drop out of the submitted data).
    setTimeout(() => {
      if (event.defaultPrevented) return;
      form.dataset.busy = "1";
      const button = event.submitter || form.querySelector("[type=submit]");
      if (button && button.offsetParent !== null) busy(button);
      else document.body.classList.add("loading");
    });
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (link.target || link.hasAttribute("download") || link.origin !== window.location.origin) return;
    if (link.getAttribute("href").startsWith("#")) return;
    // After every handler: a link another script holds back (leave the changed form?) waits.
    setTimeout(() => {
      if (!event.defaultPrevented) document.body.classList.add("loading");
    });
  });

  // Back to a page kept in the browser's cache: its buttons work again.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-busy]").forEach((form) => delete form.dataset.busy);
    document.querySelectorAll(".busy").forEach(idle);
    document.body.classList.remove("loading");
  });

  document.addEventListener("shown.bs.modal", (event) => {
    const first = event.target.querySelector(
      ".modal-body input:not([type=hidden]):not([disabled]), .modal-body select, .modal-body textarea"
    );
    const target = first || event.target.querySelector(".modal-footer .btn:last-child");
    if (target) {
      target.focus();
      if (target.select) target.select();
    }
  });

  window.consoleBusy = { busy: busy, idle: idle };
})();
