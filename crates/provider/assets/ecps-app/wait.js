// The wallet's e-CPS waiting page: listens to the request's event stream and continues without
// reloading: on approval it goes to the waiting page's URL (which completes the login and
// returns to the application); on denial or expiry it shows why in place. Without scripts,
// the page's <noscript> refresh does the same by loading the page again.
const root = document.getElementById("ecps-wait");
if (root && root.dataset.state === "waiting" && "EventSource" in window) {
  const show = (state) => {
    for (const el of root.querySelectorAll("[data-when]")) {
      el.hidden = el.dataset.when !== state;
    }
    const shown = root.querySelector(`[data-when="${state}"]`);
    if (shown) {
      shown.setAttribute("tabindex", "-1");
      shown.focus();
    }
    root.dataset.state = state;
  };
  const events = new EventSource(root.dataset.events);
  events.addEventListener("state", (e) => {
    if (e.data === "approved") {
      events.close();
      root.dataset.state = "approved";
      window.location.replace(root.dataset.again);
    } else if (e.data === "denied" || e.data === "expired") {
      events.close();
      show(e.data);
    }
  });
  events.addEventListener("error", () => {
    // The stream refused (the login ended elsewhere): the page says why when loaded again.
    if (events.readyState === EventSource.CLOSED) {
      setTimeout(() => window.location.reload(), 2000);
    }
  });
}
