// kubewright job page: render the Mermaid diagram. Loaded from this
// server (CSP script-src 'self'), after mermaid.min.js. The diagram's
// source is data: Mermaid runs with securityLevel "strict" (no HTML in
// labels, no click handlers) and SVG text labels.
(function () {
  "use strict";
  var nodes = document.querySelectorAll("pre.mermaid");
  var mark = function (state) { document.body.setAttribute("data-mermaid", state); };
  if (nodes.length === 0) { mark("none"); return; }
  if (typeof window.mermaid === "undefined") { mark("missing"); return; }
  window.mermaid.initialize({
    startOnLoad: false, securityLevel: "strict", theme: "neutral", htmlLabels: false,
    flowchart: { htmlLabels: false }, maxTextSize: 32768, maxEdges: 500
  });
  window.mermaid.run({ nodes: nodes }).then(function () { mark("rendered"); }, function (err) {
    var note = document.getElementById("diagram-error");
    if (note) { note.textContent = "The diagram could not be drawn: " + String(err && err.message || err).slice(0, 300); note.hidden = false; }
    mark("error");
  });
})();
