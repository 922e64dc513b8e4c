// Small progressive enhancements; every page works without them.
// [data-poll-url] elements refresh their content every few seconds while they say so
// (the server stops the polling by returning a fragment without data-poll-url).
// Inside a [data-reload-when-settled] container, a settled fragment reloads the page,
// so everything else on it (history, vendor ids) shows the new state too.
(function () {
  function poll(el) {
    var url = el.getAttribute("data-poll-url");
    var every = parseInt(el.getAttribute("data-poll-seconds") || "2", 10) * 1000;
    if (!url) return;
    setTimeout(function () {
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var tmp = document.createElement("div");
          tmp.innerHTML = html.trim();
          var fresh = tmp.firstElementChild;
          if (!fresh) return;
          var settled = !fresh.hasAttribute("data-poll-url");
          if (settled && el.closest("[data-reload-when-settled]")) {
            window.location.reload();
            return;
          }
          el.replaceWith(fresh);
          poll(fresh);
        })
        .catch(function () { poll(el); });
    }, every);
  }
  document.querySelectorAll("[data-poll-url]").forEach(poll);
  // "Cancel" links go back a page (a javascript: URL would need CSP's unsafe-inline);
  // opened directly, with no page to go back to, they follow their href.
  document.querySelectorAll("a[data-history-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  });
  // Select-all checkbox for bulk actions.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.getAttribute("data-select-all") + "']")
        .forEach(function (c) { c.checked = box.checked; });
    });
  });
})();
