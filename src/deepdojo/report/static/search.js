/* deepdojo evidence site: client-side search over a static index (no server, no network).
 *
 * static/search-index.js sets window.DEEPDOJO_INDEX = [{k, t, s, u, x}, ...]:
 *   k kind (question, claim, lab, api), t title, s subtitle, u url from the site root,
 *   x lower-case text to search. A query's words (common words dropped) must all appear in an
 *   entry (prefix match on the entry's words); a word in the title weighs more than one in the
 *   text. Entries with every word come first, then those with at least half of them.
 */
(function () {
  "use strict";
  var script = document.getElementById("search-script");
  var root = script ? script.getAttribute("data-root") || "" : "";
  var box = document.getElementById("search-box");
  var list = document.getElementById("search-results");
  var index = window.DEEPDOJO_INDEX || [];
  if (!box || !list) { return; }
  var KIND_ORDER = { question: 0, lab: 1, claim: 2, api: 3 };
  var KIND_BONUS = { question: 2, lab: 1, claim: 0, api: 0 };  // a question page is the best landing
  var MAX = 10;

  var STOP = ("a an and are as at be by can do does for from how in is it of on or the to " +
              "what when where which who why with you your").split(" ");

  function words(text) {
    return text.toLowerCase().split(/[^a-z0-9]+/).filter(function (w) {
      return w.length > 1 && STOP.indexOf(w) < 0;
    });
  }

  // [score, number of terms found] of one entry
  function score(entry, terms) {
    var total = 0, found = 0;
    var title = entry.t.toLowerCase();
    for (var i = 0; i < terms.length; i++) {
      var re = new RegExp("(^|[^a-z0-9])" + terms[i]);
      if (re.test(title)) { total += 3; found += 1; }
      else if (re.test(entry.x)) { total += 1; found += 1; }
    }
    return [total + (found ? KIND_BONUS[entry.k] : 0), found];
  }

  function search(query) {
    var terms = words(query);
    if (!terms.length) { return []; }
    var hits = [];
    for (var i = 0; i < index.length; i++) {
      var r = score(index[i], terms);
      if (r[1] > 0 && r[1] * 2 >= terms.length) { hits.push({ e: index[i], s: r[0], n: r[1] }); }
    }
    hits.sort(function (a, b) {
      return b.n - a.n || b.s - a.s || KIND_ORDER[a.e.k] - KIND_ORDER[b.e.k] ||
        (a.e.t < b.e.t ? -1 : 1);
    });
    return hits.slice(0, MAX);
  }

  function show(query) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!query.trim()) { list.hidden = true; return; }
    var hits = search(query);
    if (!hits.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "No match for \u201c" + query + "\u201d";
      list.appendChild(none);
    }
    hits.forEach(function (hit) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = root + hit.e.u;
      var kind = document.createElement("span");
      kind.className = "kind kind-" + hit.e.k;
      kind.textContent = hit.e.k;
      var title = document.createElement("span");
      title.className = "title";
      title.textContent = hit.e.t;
      a.appendChild(kind);
      a.appendChild(title);
      if (hit.e.s) {
        var sub = document.createElement("span");
        sub.className = "sub";
        sub.textContent = hit.e.s;
        a.appendChild(sub);
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
  }

  box.addEventListener("input", function () { show(box.value); });
  box.addEventListener("focus", function () { if (box.value) { show(box.value); } });
  box.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { box.value = ""; show(""); box.blur(); }
    if (ev.key === "Enter") {
      var first = list.querySelector("a");
      if (first) { window.location.href = first.href; }
    }
  });
  document.addEventListener("click", function (ev) {
    if (!ev.target.closest || !ev.target.closest(".search")) { list.hidden = true; }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && document.activeElement !== box) { ev.preventDefault(); box.focus(); }
  });
})();
