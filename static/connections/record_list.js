// Lists: a filter or the page size applies as soon as it changes (no Filter click);
// the search applies on Enter, or when the field is left after a change.
(function () {
  "use strict";
  const form = document.getElementById("list-filters");
  if (!form) return;
  const button = document.getElementById("filter-button");
  if (button) button.classList.add("d-none");
  function apply() {
    form.querySelectorAll("[name=page]").forEach((input) => input.remove());
    form.requestSubmit();
  }
  form.querySelectorAll("select").forEach((select) => select.addEventListener("change", apply));
  const search = document.getElementById("id_q");
  if (search) search.addEventListener("change", apply);
  const perPage = document.getElementById("id_per_page");
  if (perPage) perPage.addEventListener("change", apply);
})();
