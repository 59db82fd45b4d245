// Stem dashboard: refreshes every element with data-refresh from its URL
// (every data-every milliseconds, 2000 by default). No other script runs.
"use strict";
document.querySelectorAll("[data-refresh]").forEach((el) => {
  const every = Number(el.dataset.every || 2000);
  const tick = async () => {
    try {
      const response = await fetch(el.dataset.refresh, { credentials: "same-origin", redirect: "error" });
      if (response.ok) el.innerHTML = await response.text();
    } catch (_) {
      // Offline or logged out: try again at the next tick.
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
});
