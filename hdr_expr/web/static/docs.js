// Renders /openapi.json as a readable page (no external assets).
"use strict";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  const origin = location.origin;
  document.querySelectorAll(".example code").forEach((c) => { c.textContent = c.textContent.replaceAll("ORIGIN", origin); });
  document.title = `${spec.info.title} ${spec.info.version} API`;
  const ops = document.getElementById("ops");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const card = el("section", "card op");
      const head = el("h2");
      head.append(el("span", `method ${method}`, method.toUpperCase()), " ", el("code", "", path));
      card.append(head, el("p", "", op.summary || ""));
      if (op.description) card.append(el("p", "desc", op.description));
      if (op.parameters && op.parameters.length) {
        card.append(el("h3", "", "Parameters"));
        const ul = el("ul");
        for (const p of op.parameters) {
          const li = el("li");
          li.append(el("code", "", p.name), ` (${p.in}) — ${p.description || ""}`);
          ul.append(li);
        }
        card.append(ul);
      }
      if (op.requestBody) {
        card.append(el("h3", "", "Request body"), el("p", "", Object.keys(op.requestBody.content).join(", ")));
      }
      card.append(el("h3", "", "Responses"));
      const ul = el("ul");
      for (const [code, r] of Object.entries(op.responses)) {
        const li = el("li");
        li.append(el("code", "", code), ` — ${r.description}`);
        ul.append(li);
      }
      card.append(ul);
      ops.append(card);
    }
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries(spec.components.schemas)) {
    schemas.append(el("h3", "", name), el("pre", "", JSON.stringify(schema, null, 2)));
  }
}

main().catch((err) => {
  document.getElementById("ops").textContent = `Could not load /openapi.json: ${err.message}`;
});
