// Record forms (the pages and the admin's connection form).
// Fields: only those that apply to the chosen Type/Authentication (or Provider) are shown, the
// `*` marks those the server requires, and Authentication offers only what the Type allows;
// all from the model's field_rules, the rules the server validates with.
// Pages only: Check All / Uncheck All for Business Services, the first field focused, Enter
// saves (the form's first submit button), and leaving with unsaved changes asks first.
(function () {
  "use strict";
  const control = (name) => document.getElementById("id_" + name);
  // Pages: crispy's div_id_<name>; the admin: a field of a row (its box with its help and
  // errors), or the row. Bootstrap hides with d-none, the admin with hidden.
  const wrapper = (name) => {
    const box = document.querySelector(".fieldBox.field-" + name);
    return document.getElementById("div_id_" + name) || (box && box.parentElement) ||
      document.querySelector(".form-row.field-" + name);
  };
  const hide = (element, hidden) => {
    element.classList.toggle("d-none", hidden);
    element.classList.toggle("hidden", hidden);
  };

  function setupFields() {
    const source = document.getElementById("field-rules");
    if (!source) return;
    const { controls, rules, required, choices } = JSON.parse(source.textContent);
    if (!controls.every((name) => control(name))) return;
    const managed = new Set(Object.values(rules).flat());
    const requirable = new Set(Object.values(required || {}).flat());
    const key = () => controls.map((name) => control(name).value).join("|");

    // Authentication: the choices of the Type (an Incoming connection must log in).
    const auth = control("authentication");
    const type = control("connection_type");
    const authChoices = choices && choices.authentication;
    const allOptions = auth ? Array.from(auth.options).map((o) => o.cloneNode(true)) : [];
    function applyChoices() {
      if (!authChoices || !auth || !type || auth.disabled) return;
      const allowed = authChoices[type.value] || allOptions.map((o) => o.value);
      const current = auth.value;
      auth.replaceChildren(
        ...allOptions.filter((o) => allowed.includes(o.value)).map((o) => o.cloneNode(true))
      );
      auth.value = allowed.includes(current) ? current : allowed[0];
    }

    // A stored password is required again when it would go to another Type, server, port or
    // user (the server says so too); otherwise blank keeps it.
    const endpointNow = () => {
      const outgoing = !type || type.value === "outgoing";
      const server = control(outgoing ? "smtp_server" : "imap_server");
      const port = control(outgoing ? "smtp_port" : "imap_port");
      const user = control("user_name");
      return [type && type.value, server && server.value.trim().toLowerCase(),
        port && String(Number(port.value)), user && user.value].join("|");
    };
    const endpointThen = endpointNow();
    const password = control("password");
    const passwordStored = password && password.dataset.stored === "true";

    function mark(name, on) {
      const input = control(name);
      const box = wrapper(name);
      const label = document.querySelector('label[for="id_' + name + '"]') ||
        (box && box.querySelector("legend, label"));
      if (!label) return;
      if (label.closest(".form-row")) {
        label.classList.toggle("required", on); // the admin marks required labels in bold
        if (input) input.setAttribute("aria-required", String(on));
        return;
      }
      const star = label.querySelector(".asteriskField");
      const text = label.lastChild;
      if (on && !star && text && text.nodeType === Node.TEXT_NODE) text.textContent = text.textContent.trimEnd();
      if (on && !star) label.insertAdjacentHTML("beforeend", '<span class="asteriskField">*</span>');
      if (!on && star) star.remove();
      label.classList.toggle("requiredField", on);
      if (input) input.setAttribute("aria-required", String(on));
    }

    function apply() {
      const shown = new Set(rules[key()] || []);
      managed.forEach((name) => {
        const box = wrapper(name);
        if (box) hide(box, !shown.has(name));
      });
      // The admin: a row whose fields are all hidden goes too.
      document.querySelectorAll(".form-row").forEach((row) => {
        const boxes = [...row.querySelectorAll(".fieldBox")].map((b) => b.parentElement);
        if (boxes.length) hide(row, boxes.every((b) => b.classList.contains("hidden")));
      });
      const needed = new Set((required || {})[key()] || []);
      requirable.forEach((name) => {
        let on = needed.has(name);
        if (name === "password" && passwordStored) on = on && endpointNow() !== endpointThen;
        mark(name, on);
      });
    }

    // Usual ports follow the security choice while the port is still a usual one.
    const PORTS = {
      smtp_port: { plain: 25, ssl: 465, starttls: 587 },
      imap_port: { plain: 143, ssl: 993, starttls: 143 },
    };
    function followPorts() {
      const ssl = control("enable_ssl"), starttls = control("enable_starttls");
      const mode = ssl && ssl.checked ? "ssl" : starttls && starttls.checked ? "starttls" : "plain";
      Object.entries(PORTS).forEach(([name, usual]) => {
        const input = control(name);
        if (input && Object.values(usual).includes(Number(input.value))) input.value = usual[mode];
      });
      apply();
    }

    if (type) type.addEventListener("change", applyChoices);
    controls.forEach((name) => control(name).addEventListener("change", apply));
    ["smtp_server", "imap_server", "smtp_port", "imap_port", "user_name"].forEach((name) => {
      const input = control(name);
      if (input) input.addEventListener("input", apply);
    });
    ["enable_ssl", "enable_starttls"].forEach((name) => {
      const input = control(name);
      if (input) input.addEventListener("change", followPorts);
    });
    applyChoices();
    apply();
  }

  function setupServices() {
    const boxes = [...document.querySelectorAll('input[type=checkbox][name="business_services"]')];
    const box = document.getElementById("div_id_business_services");
    if (boxes.length < 2 || boxes[0].disabled || !box) return;
    const legend = box.querySelector("legend, label");
    const tools = document.createElement("div");
    tools.className = "service-tools mb-1";
    [["Check All", true], ["Uncheck All", false]].forEach(([text, on]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-outline-secondary btn-sm py-0 me-1";
      button.textContent = text;
      button.addEventListener("click", () => boxes.forEach((b) => {
        if (b.checked !== on) {
          b.checked = on;
          b.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }));
      tools.append(button);
    });
    if (legend) legend.after(tools);
    else box.prepend(tools);
  }

  function setupPage() {
    const form = document.getElementById("record-form");
    if (!form) return;

    const first = form.querySelector(".is-invalid") ||
      [...form.querySelectorAll("input, select, textarea")].find(
        (el) => el.type !== "hidden" && !el.disabled && el.offsetParent !== null
      );
    if (first) first.focus({ preventScroll: true });

    const snapshot = () => {
      const data = new FormData(form);
      data.delete("csrfmiddlewaretoken");
      return JSON.stringify([...data.entries()].map(([k, v]) => [k, String(v)]));
    };
    const initial = snapshot();
    // A form sent back with errors holds what was typed, not what is stored (an error
    // message of another action, which can be dismissed, is no such thing).
    const rejected = Boolean(
      form.querySelector(".is-invalid") ||
      document.querySelector("main > .alert-danger:not(.alert-dismissible)")
    );
    let leaving = false;
    const dirty = () => !leaving && (rejected || snapshot() !== initial);

    const modal = document.createElement("div");
    modal.className = "modal fade";
    modal.id = "leave-modal";
    modal.tabIndex = -1;
    modal.setAttribute("aria-labelledby", "leave-title");
    modal.setAttribute("aria-hidden", "true");
    modal.innerHTML =
      '<div class="modal-dialog"><div class="modal-content">' +
      '<div class="modal-header py-2"><h2 class="modal-title h6" id="leave-title">Leave without saving?</h2>' +
      '<button type="button" class="btn-close" data-bs-dismiss="modal" aria-label="Close"></button></div>' +
      '<div class="modal-body">This form has changes that are not saved. They are lost if you leave this page.</div>' +
      '<div class="modal-footer py-2"><button type="button" class="btn btn-outline-danger btn-sm" id="leave-confirm">Leave without saving</button>' +
      '<button type="button" class="btn btn-primary btn-sm" data-bs-dismiss="modal" id="leave-stay">Stay and keep editing</button></div>' +
      "</div></div>";
    document.body.append(modal);
    let then = null;
    modal.querySelector("#leave-confirm").addEventListener("click", () => {
      leaving = true;
      bootstrap.Modal.getOrCreateInstance(modal).hide();
      if (then) then();
    });
    function ask(action) {
      then = action;
      bootstrap.Modal.getOrCreateInstance(modal).show();
    }

    document.addEventListener("click", (event) => {
      const link = event.target.closest("a[href]");
      if (!link || event.defaultPrevented || event.button !== 0) return;
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      if (link.target === "_blank" || link.hasAttribute("download")) return;
      if (link.getAttribute("href").startsWith("#") || !dirty()) return;
      event.preventDefault();
      ask(() => {
        document.body.classList.add("loading");
        window.location.assign(link.href);
      });
    });

    // Other forms of the page (Authorize, Disconnect, Log out) leave it too. The Copy and
    // Delete dialogs say so themselves; the record form itself saves what was typed.
    document.addEventListener("submit", (event) => {
      const other = event.target;
      if (other === form || other.closest(".modal")) {
        leaving = true;
        return;
      }
      if (!dirty()) return;
      event.preventDefault();
      const submitter = event.submitter;
      ask(() => other.requestSubmit(submitter));
    }, true);

    window.addEventListener("beforeunload", (event) => {
      if (!dirty()) return;
      event.preventDefault();
      event.returnValue = "";
    });

    document.addEventListener("show.bs.modal", (event) => {
      const warning = event.target.querySelector(".unsaved-warning");
      if (warning) warning.classList.toggle("d-none", !dirty());
    });

    window.recordForm = {
      dirty: dirty,
      stay: () => { leaving = false; },
    };
  }

  // The Status panel follows a Test: the Test stores its result on the record when the
  // tested settings are the stored ones, so the panel is read again from the page.
  function setupStatus() {
    const report = document.getElementById("test-report");
    const panel = document.getElementById("status-panel");
    if (!report || !panel) return;
    new MutationObserver(async () => {
      if (!report.querySelector("#test-summary")) return;
      try {
        const response = await fetch(window.location.pathname, { credentials: "same-origin" });
        if (!response.ok) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("status-panel");
        const current = document.getElementById("status-panel");
        if (fresh && current) current.replaceWith(document.importNode(fresh, true));
      } catch (error) {
        // The panel stays as it was; the report above says what the Test found.
      }
    }).observe(report, { childList: true });
  }

  setupFields();
  setupServices();
  setupPage();
  setupStatus();
})();
