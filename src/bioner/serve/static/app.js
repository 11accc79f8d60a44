// bioner page: send the textarea to POST annotate and highlight the entities by type.
// URLs are relative to the page, so it also works behind a proxy that adds a path prefix.
// Text is inserted with textContent only, so nothing the user types is parsed as HTML.
"use strict";

const COLOURS = ["#ffd166", "#7bdff2", "#b2f7ef", "#f7a072", "#cdb4db", "#a7c957", "#ffafcc", "#e9ff70"];
let colourOf = {};

function setColours(labels) {
  colourOf = {};
  labels.slice().sort().forEach((label, i) => { colourOf[label] = COLOURS[i % COLOURS.length]; });
}

function colour(label) {
  if (!(label in colourOf)) {
    colourOf[label] = COLOURS[Object.keys(colourOf).length % COLOURS.length];
  }
  return colourOf[label];
}

function renderLegend(labels) {
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  labels.forEach((label) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    item.textContent = label;
    item.style.background = colour(label);
    legend.appendChild(item);
  });
}

// Offsets count Unicode code points (Python string indices); JS strings count UTF-16 units.
function render(doc) {
  const chars = Array.from(doc.text);
  const result = document.getElementById("result");
  result.replaceChildren();
  let cursor = 0;
  const spans = doc.spans.slice().sort((a, b) => a.start - b.start || b.end - a.end);
  for (const span of spans) {
    if (span.start < cursor) continue;  // overlapping spans: keep the first
    result.appendChild(document.createTextNode(chars.slice(cursor, span.start).join("")));
    const mark = document.createElement("mark");
    mark.className = "entity";
    mark.dataset.label = span.label;
    mark.title = span.label + (span.score == null ? "" : " " + span.score.toFixed(3));
    mark.style.background = colour(span.label);
    mark.textContent = chars.slice(span.start, span.end).join("");
    result.appendChild(mark);
    cursor = span.end;
  }
  result.appendChild(document.createTextNode(chars.slice(cursor).join("")));
  const found = [...new Set(doc.spans.map((s) => s.label))];
  renderLegend(found);
}

async function annotate() {
  const status = document.getElementById("status");
  status.className = "muted";
  status.textContent = "annotating…";
  try {
    const response = await fetch("annotate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: document.getElementById("text").value }),
    });
    const body = await response.json();
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      throw new Error(response.status + ": " + detail);
    }
    render(body);
    status.textContent = body.spans.length + " entit" + (body.spans.length === 1 ? "y" : "ies");
    document.body.dataset.state = "done";
  } catch (error) {
    status.className = "error";
    status.textContent = "error " + error.message;
    document.body.dataset.state = "error";
  }
}

async function start() {
  document.getElementById("run").addEventListener("click", annotate);
  try {
    const health = await (await fetch("health")).json();
    document.getElementById("model").textContent =
      "model " + health.model + " · bioner " + health.version + " · types: " + health.labels.join(", ");
    setColours(health.labels);
  } catch (error) {
    document.getElementById("model").textContent = "service unavailable";
  }
  const text = new URLSearchParams(window.location.search).get("text");
  if (text) {
    document.getElementById("text").value = text;
    await annotate();
  }
}

start();
