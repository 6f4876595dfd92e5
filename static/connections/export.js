// Record lists: the header checkbox selects every row of the page for Export.
(function () {
  const all = document.getElementById("select-page");
  if (!all) return;
  const rows = () => Array.from(document.querySelectorAll("input.select-row"));
  all.addEventListener("change", () => rows().forEach((box) => { box.checked = all.checked; }));
  document.addEventListener("change", (event) => {
    if (!event.target.classList || !event.target.classList.contains("select-row")) return;
    const boxes = rows();
    all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
  });
})();
