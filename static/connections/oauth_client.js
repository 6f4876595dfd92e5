// OAuth Client form: the endpoints that Provider and Tenant give, and the default scopes,
// shown at once (no reload, no save first); and the Redirect URL's copy button.
(function () {
  "use strict";
  const copy = document.getElementById("copy-redirect-url");
  const redirect = document.getElementById("redirect-url");
  if (copy && redirect) {
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(redirect.value);
      } catch (error) {
        redirect.select();
        document.execCommand("copy");
      }
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy"; }, 2000);
    });
  }

  const source = document.getElementById("field-rules");
  const provider = document.getElementById("id_provider");
  const panel = document.getElementById("derived-endpoints");
  if (!source || !provider || !panel) return;
  const rules = JSON.parse(source.textContent);
  if (!rules.derived) return;
  const tenant = document.getElementById("id_tenant_id");
  const scopes = document.getElementById("id_scopes");
  const defaults = Object.values(rules.default_scopes || {});

  function apply() {
    const derived = rules.derived[provider.value];
    panel.classList.toggle("d-none", !derived);
    if (derived) {
      const id = (tenant && tenant.value.trim()) || rules.default_tenant;
      panel.querySelectorAll("[data-endpoint]").forEach((cell) => {
        const url = (derived[cell.dataset.endpoint] || "").replace("{tenant}", id);
        cell.textContent = url || "— (none: " + (cell.dataset.endpoint === "userinfo_endpoint" ? "the account comes from the ID token" : "tokens are forgotten here only") + ")";
      });
    }
    // A new record: the scopes follow the Provider until the operator types their own.
    if (scopes && !provider.disabled) {
      const current = scopes.value.trim();
      if (!current || defaults.includes(current)) scopes.value = rules.default_scopes[provider.value] || "";
    }
  }

  provider.addEventListener("change", apply);
  if (tenant) tenant.addEventListener("input", apply);
  apply();
})();
