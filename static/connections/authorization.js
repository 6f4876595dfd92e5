// An authorized connection: warn before a save that would forget its tokens (a change of
// Type, server, port, User Name, Authentication or OAuth Client).
(function () {
  "use strict";
  const warning = document.getElementById("authorization-binding");
  const form = document.getElementById("record-form");
  if (!warning || !form) return;
  const inputs = warning.dataset.fields
    .split(" ")
    .map((name) => form.elements.namedItem(name))
    .filter((input) => input && !input.disabled);
  const value = (input) => (input.type === "checkbox" ? String(input.checked) : input.value.trim());
  const initial = new Map(inputs.map((input) => [input, value(input)]));

  function check() {
    const changed = inputs.some((input) => value(input) !== initial.get(input));
    warning.classList.toggle("d-none", !changed);
  }

  inputs.forEach((input) => {
    input.addEventListener("input", check);
    input.addEventListener("change", check);
  });
})();
