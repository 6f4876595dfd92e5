// Show only the fields that apply to the chosen Type/Authentication (or Provider), at once.
// The rules come from the model (field_rules), the same ones the server validates with.
(function () {
  "use strict";
  const source = document.getElementById("field-rules");
  if (!source) return;
  const { controls, rules } = JSON.parse(source.textContent);
  const managed = new Set(Object.values(rules).flat());
  const control = (name) => document.getElementById("id_" + name);

  function apply() {
    const key = controls.map((name) => control(name).value).join("|");
    const shown = new Set(rules[key] || []);
    managed.forEach((name) => {
      const wrapper = document.getElementById("div_id_" + name);
      if (wrapper) wrapper.classList.toggle("d-none", !shown.has(name));
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
  }

  controls.forEach((name) => control(name).addEventListener("change", apply));
  ["enable_ssl", "enable_starttls"].forEach((name) => {
    const input = control(name);
    if (input) input.addEventListener("change", followPorts);
  });
  apply();
})();
