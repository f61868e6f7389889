// Client-side search of the feature catalog: every term must appear in a row's search text; tier and schedule
// selects narrow further. The query is kept in the URL hash so a filtered view can be linked.
(function () {
  "use strict";
  const search = document.getElementById("search");
  const tier = document.getElementById("filter-tier");
  const schedule = document.getElementById("filter-schedule");
  const count = document.getElementById("count");
  const empty = document.getElementById("empty");
  const rows = Array.from(document.querySelectorAll("tr.feature"));

  function apply() {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const text = row.dataset.search;
      const visible =
        terms.every((t) => text.includes(t)) &&
        (!tier.value || row.dataset.tier === tier.value) &&
        (!schedule.value || row.dataset.schedule === schedule.value);
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    count.textContent = shown + " of " + rows.length + " features";
    empty.hidden = shown !== 0;
    const hash = search.value ? "#q=" + encodeURIComponent(search.value) : "";
    if (window.location.hash !== hash) history.replaceState(null, "", hash || window.location.pathname);
  }

  if (window.location.hash.startsWith("#q=")) search.value = decodeURIComponent(window.location.hash.slice(3));
  search.addEventListener("input", apply);
  tier.addEventListener("change", apply);
  schedule.addEventListener("change", apply);
  apply();
})();
