// The run viewer: the plan as a DAG and as a timeline, drawn with DOM and SVG APIs only.
// Every value comes from upstream servers: it is only ever set as text (textContent), never as
// markup, and no data reaches a script or a style. docs/observability.md, "The run viewer".
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 22, LEFT = 170, WIDTH = 900;

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show(task) {
    const parts = ["task " + task.id + " " + task.tool + " (" + task.status + ")"];
    if (task.error) parts.push("error: " + task.error);
    parts.push("arguments: " + task.args);
    parts.push("result: " + task.result);
    document.getElementById("details").textContent = parts.join("\n\n");
  }

  function timeline(run) {
    const svg = document.getElementById("timeline");
    svg.replaceChildren();
    const end = Math.max(run.elapsed_s, ...run.tasks.map(t => t.end_s || 0), 0.001);
    const scale = (WIDTH - LEFT - 20) / end;
    const servers = [...new Set(run.tasks.map(t => t.server))];
    let y = 10;
    for (const server of servers) {
      svg.appendChild(el("text", {x: 4, y: y + 12, class: "group"}, server));
      y += ROW;
      for (const task of run.tasks.filter(t => t.server === server)) {
        const start = task.start_s === null ? 0 : task.start_s;
        const stop = task.end_s === null ? run.elapsed_s : task.end_s;
        const bar = el("rect", {x: LEFT + start * scale, y: y, width: Math.max(1, (stop - start) * scale), height: ROW - 6,
          class: "bar " + task.status + (task.critical ? " critical" : ""), "data-task": task.id,
          "data-start": start, "data-end": stop});
        bar.addEventListener("click", () => show(task));
        svg.appendChild(bar);
        svg.appendChild(el("text", {x: 14, y: y + 12, class: "label"}, "$" + task.id + " " + task.tool));
        y += ROW;
        for (const call of task.calls || []) {
          if (call.start_s === null) continue;
          const cend = call.end_s === null ? run.elapsed_s : call.end_s;
          svg.appendChild(el("rect", {x: LEFT + call.start_s * scale, y: y, width: Math.max(1, (cend - call.start_s) * scale),
            height: ROW - 10, class: "bar element " + call.status, "data-task": task.id, "data-element": call.index}));
          y += ROW - 6;
        }
      }
    }
    svg.setAttribute("height", y + 10);
    svg.setAttribute("width", WIDTH);
  }

  function dag(run) {
    const svg = document.getElementById("dag");
    svg.replaceChildren();
    const depth = {}, slot = {}, perDepth = {};
    for (const task of run.tasks) {
      const before = [...task.deps, ...task.after, ...task.ordered_after].map(d => (depth[d] ?? -1) + 1);
      depth[task.id] = Math.max(0, ...before);
      slot[task.id] = perDepth[depth[task.id]] = (perDepth[depth[task.id]] ?? -1) + 1;
    }
    const at = id => [20 + depth[id] * 180, 20 + slot[id] * 40];
    for (const task of run.tasks) {
      for (const kind of ["deps", "after", "ordered_after"]) {
        for (const d of task[kind]) {
          if (depth[d] === undefined) continue;
          const [x1, y1] = at(d), [x2, y2] = at(task.id);
          svg.appendChild(el("path", {d: `M${x1 + 140},${y1 + 12} L${x2},${y2 + 12}`,
            class: "edge " + (kind === "deps" ? "data" : kind), "data-from": d, "data-to": task.id}));
        }
      }
    }
    for (const task of run.tasks) {
      const [x, y] = at(task.id);
      const node = el("rect", {x: x, y: y, width: 140, height: 24, rx: 4,
        class: "node " + task.status + (task.critical ? " critical" : ""), "data-task": task.id});
      node.addEventListener("click", () => show(task));
      svg.appendChild(node);
      svg.appendChild(el("text", {x: x + 6, y: y + 16, class: "label"}, ("$" + task.id + " " + task.tool).slice(0, 24)));
    }
    svg.setAttribute("width", 60 + (Math.max(0, ...Object.values(depth)) + 1) * 180);
    svg.setAttribute("height", 40 + (Math.max(0, ...Object.values(perDepth)) + 1) * 40);
  }

  function render(run) {
    document.getElementById("status").textContent =
      (run.running ? "running" : "finished") + " · " + run.tasks.length + " tasks · " + run.elapsed_s.toFixed(3) + " s" +
      (run.trace_id ? " · trace " + run.trace_id : "") + (run.error ? " · " + run.error : "");
    dag(run);
    timeline(run);
    document.body.setAttribute("data-rendered", run.running ? "live" : "done");
  }

  async function poll(url) {
    const reply = await fetch(url, {headers: {"accept": "application/json"}, credentials: "same-origin"});
    const run = await reply.json();
    render(run);
    if (run.running) setTimeout(() => poll(url), 1000);
  }

  const inline = document.getElementById("run-data");
  if (inline) render(JSON.parse(inline.textContent));
  else poll(location.pathname + ".json");
})();
