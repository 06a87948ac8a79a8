// hdr-expr's page: send an image (file, drop, paste, camera, or a drawing) to /api/recognize and show what was
// read. No libraries, no external assets: the expression is typeset as MathML built here from the line's text.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MML_NS = "http://www.w3.org/1998/Math/MathML";
const $ = (sel) => document.querySelector(sel);

const state = {
  health: null,
  seq: 0, // the latest request; older answers are dropped
  objectUrl: null,
  strokes: [], // drawing: [{w, pts: [[x, y], ...]}] in CSS pixels
  current: null,
  pinned: null, // the symbol whose tooltip was tapped open
};

// ------------------------------------------------------------------------------------------------ small helpers

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const kid of kids) el.append(kid);
  return el;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function pct(p) {
  const v = 100 * p;
  return v >= 99.95 ? "100%" : v >= 10 ? `${v.toFixed(1)}%` : `${v.toFixed(2)}%`;
}

function mb(n) {
  return `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

// The line as a person reads it; the same wording as LineResult.summary() in Python.
function summary(line) {
  const said = saying(line);
  return line.label ? `${line.label} ${said}` : said;
}

function saying(line) {
  if (line.error) return `${line.text}  (${line.error})`;
  if (line.correct === true) return `${line.text} ✓`;
  if (line.correct === false) return `${line.text} ✗ (= ${line.value})`;
  if (line.value !== null && line.value !== undefined) {
    const lhs = line.text.endsWith("=") ? line.text.slice(0, -1) : line.text;
    return `${lhs} = ${line.value}`;
  }
  return line.text;
}

// ------------------------------------------------------------------------------------------------ MathML

function m(tag, ...kids) {
  const el = document.createElementNS(MML_NS, tag);
  for (const kid of kids) el.append(typeof kid === "string" ? document.createTextNode(kid) : kid);
  return el;
}

function tokenize(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/[0-9.]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9.]/.test(text[j])) j++;
      out.push({ t: "num", v: text.slice(i, j) });
      i = j;
    } else {
      out.push({ t: "op", v: c });
      i++;
    }
  }
  return out;
}

const MO = { "-": "−", "×": "×", "÷": "÷", "+": "+", "/": "/", "=": "=" };

// A small recursive-descent parser over the line's symbols that builds MathML: "/" becomes a fraction, brackets
// stay, unary minus and implicit multiplication (4(6-2)) are kept as written. Throws on what does not parse.
function parseToMathML(tokens) {
  let i = 0;
  const peek = () => tokens[i];
  const isOp = (tok, ...vs) => tok && tok.t === "op" && vs.includes(tok.v);
  const row = (items) => (items.length === 1 ? items[0] : m("mrow", ...items));
  const unwrap = (node) => node.hdrInner || node;

  function expr() {
    const items = [term()];
    while (isOp(peek(), "+", "-")) {
      items.push(m("mo", MO[tokens[i++].v]));
      items.push(term());
    }
    return row(items);
  }
  function term() {
    const items = [factor()];
    for (;;) {
      const tok = peek();
      if (isOp(tok, "/")) {
        i++;
        const num = items.pop();
        items.push(m("mfrac", unwrap(num), unwrap(factor())));
      } else if (isOp(tok, "×", "÷")) {
        i++;
        items.push(m("mo", tok.v));
        items.push(factor());
      } else if (tok && (tok.t === "num" || isOp(tok, "("))) {
        items.push(factor()); // implicit multiplication: 4(6-2), (1+2)(3+4)
      } else break;
    }
    return row(items);
  }
  function factor() {
    const tok = peek();
    if (!tok) throw new Error("expression ends early");
    if (isOp(tok, "-", "+")) {
      i++;
      return m("mrow", m("mo", MO[tok.v]), factor());
    }
    if (isOp(tok, "(")) {
      i++;
      const inner = expr();
      if (!isOp(peek(), ")")) throw new Error("unclosed bracket");
      i++;
      const node = m("mrow", m("mo", "("), inner, m("mo", ")"));
      node.hdrInner = inner;
      return node;
    }
    if (tok.t === "num") {
      i++;
      return m("mn", tok.v);
    }
    throw new Error(`unexpected ${tok.v}`);
  }
  const out = expr();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i].v}`);
  return out;
}

// Symbols as written, one by one: the fallback for a line that does not parse.
function flatMathML(tokens) {
  return m("mrow", ...tokens.map((t) => (t.t === "num" ? m("mn", t.v) : m("mo", MO[t.v] || t.v))));
}

function sideMathML(text) {
  const tokens = tokenize(text);
  try {
    return parseToMathML(tokens);
  } catch (_) {
    return flatMathML(tokens);
  }
}

function lineMathML(line) {
  const sides = line.text.split("=");
  const items = [];
  sides.forEach((side, k) => {
    if (k > 0) items.push(m("mo", "="));
    if (side) items.push(sideMathML(side));
  });
  const answered = line.correct !== null && line.correct !== undefined;
  if (!answered && line.value !== null && line.value !== undefined) {
    if (!line.text.endsWith("=")) items.push(m("mo", "="));
    const value = sideMathML(line.value);
    const wrap = m("mstyle", value);
    wrap.setAttribute("class", "computed");
    items.push(wrap);
  }
  const math = m("math", m("mrow", ...items));
  math.setAttribute("display", "block");
  math.setAttribute("aria-label", summary(line));
  return math;
}

// ------------------------------------------------------------------------------------------------ tooltip

function tipText(sym) {
  const frag = document.createDocumentFragment();
  frag.append(h("b", { text: sym.label }), ` ${pct(sym.confidence)} sure`);
  if (sym.alternatives && sym.alternatives.length) {
    const alts = sym.alternatives.map(([label, p]) => `${label} ${pct(p)}`).join(" · ");
    frag.append(h("br"), h("span", { class: "alts", text: `or: ${alts}` }));
  } else {
    frag.append(h("br"), h("span", { class: "alts", text: "no alternatives" }));
  }
  return frag;
}

function showTip(sym, anchor) {
  const tip = $("#tip");
  tip.replaceChildren(tipText(sym));
  tip.hidden = false;
  const r = anchor.getBoundingClientRect();
  const tr = tip.getBoundingClientRect();
  let x = r.left + r.width / 2 - tr.width / 2;
  x = Math.max(6, Math.min(x, window.innerWidth - tr.width - 6));
  let y = r.top - tr.height - 8;
  if (y < 6) y = r.bottom + 8;
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

function hideTip() {
  $("#tip").hidden = true;
}

function highlight(key, on) {
  document.querySelectorAll(`[data-sym="${key}"]`).forEach((el) => el.classList.toggle("hot", on));
}

function bindSymbol(el, sym, key) {
  el.dataset.sym = key;
  el.addEventListener("pointerenter", (e) => {
    if (e.pointerType === "mouse") {
      highlight(key, true);
      showTip(sym, el);
    }
  });
  el.addEventListener("pointerleave", (e) => {
    if (e.pointerType === "mouse" && state.pinned !== key) {
      highlight(key, false);
      hideTip();
    }
  });
  el.addEventListener("click", (e) => {
    e.stopPropagation();
    const was = state.pinned;
    if (was) highlight(was, false);
    if (was === key) {
      state.pinned = null;
      hideTip();
      return;
    }
    state.pinned = key;
    highlight(key, true);
    showTip(sym, el);
  });
}

document.addEventListener("click", () => {
  if (state.pinned) highlight(state.pinned, false);
  state.pinned = null;
  hideTip();
});
window.addEventListener("scroll", () => { if (!state.pinned) hideTip(); }, { passive: true });

// ------------------------------------------------------------------------------------------------ showing results

function setStatus(text, kind = "") {
  const el = $("#status");
  el.textContent = text;
  el.className = `status ${kind}`;
  $("#output").hidden = false;
}

function drawOverlay(page, width, height) {
  const overlay = $("#overlay");
  overlay.replaceChildren();
  overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  overlay.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const unit = Math.max(width, height) / 100; // label size relative to the image, readable when scaled down
  page.lines.forEach((line, li) => {
    const [lx, ly, lw, lh] = line.box;
    const pad = unit * 0.6;
    overlay.append(svg("rect", { class: "line-box", x: lx - pad, y: ly - pad, width: lw + 2 * pad,
                                 height: lh + 2 * pad, rx: pad, "vector-effect": "non-scaling-stroke" }));
    line.symbols.forEach((sym, si) => {
      const [x, y, w, hgt] = sym.box;
      const g = svg("g", { class: sym.confidence < 0.6 ? "sym low" : "sym" });
      g.append(svg("rect", { class: "box", x, y, width: Math.max(w, 1), height: Math.max(hgt, 1),
                             "vector-effect": "non-scaling-stroke" }));
      const fs = Math.max(unit * 3, Math.min(hgt * 0.45, unit * 5));
      const tagW = fs * (0.75 * Math.max(1, sym.label.length)) + fs * 0.3;
      const above = y - fs * 1.15 >= 0;
      const ty = above ? y - fs * 1.15 : y + hgt;
      g.append(svg("rect", { class: "tag", x, y: ty, width: tagW, height: fs * 1.15, rx: fs * 0.15 }));
      const label = svg("text", { x: x + fs * 0.15, y: ty + fs * 0.95, "font-size": fs });
      label.textContent = sym.label;
      g.append(label);
      bindSymbol(g, sym, `${li}-${si}`);
      overlay.append(g);
    });
  });
}

function renderLine(line, li) {
  const item = h("li");
  item.dataset.line = String(li);
  const head = h("div", { class: "line-head" });
  head.append(h("span", { class: "summary", "data-testid": "summary", text: summary(line) }));
  if (line.correct === true) head.append(h("span", { class: "verdict good", text: "✓ right" }));
  else if (line.correct === false) head.append(h("span", { class: "verdict bad", text: `✗ wrong: it is ${line.value}` }));
  else if (line.value !== null && line.value !== undefined) head.append(h("span", { class: "verdict none", text: `= ${line.value}` }));
  item.append(head);
  if (line.text) item.append(h("div", { class: "math" }, lineMathML(line)));
  if (line.error) item.append(h("p", { class: "line-error", text: `Cannot work this out: ${line.error}` }));

  const meta = [];
  if (line.value !== null && line.value !== undefined) meta.push(`value ${line.value}`);
  if (line.answer !== null && line.answer !== undefined) meta.push(`written answer ${line.answer}`);
  meta.push(`confidence ${pct(line.confidence)}`);
  item.append(h("div", { class: "meta", text: meta.join(" · ") }));

  const chips = h("div", { class: "chips", "aria-label": "symbols: tap one for its alternatives" });
  line.symbols.forEach((sym, si) => {
    const chip = h("button", { type: "button", class: sym.confidence < 0.6 ? "chip low" : "chip",
                               title: `${sym.label}: ${pct(sym.confidence)}` },
                   document.createTextNode(sym.label), h("small", { text: pct(sym.confidence) }));
    bindSymbol(chip, sym, `${li}-${si}`);
    chips.append(chip);
  });
  item.append(chips);
  item.addEventListener("pointerenter", () => {
    $("#overlay").classList.add("dim");
    line.symbols.forEach((_, si) => highlight(`${li}-${si}`, true));
  });
  item.addEventListener("pointerleave", () => {
    $("#overlay").classList.remove("dim");
    line.symbols.forEach((_, si) => highlight(`${li}-${si}`, false));
  });
  return item;
}

function render(page, imageUrl, seconds) {
  const stage = $("#stage");
  const img = $("#preview");
  const [width, height] = page.size || [img.naturalWidth || 100, img.naturalHeight || 100];
  if (imageUrl) {
    img.hidden = false;
    img.src = imageUrl;
    stage.classList.remove("no-image");
  } else {
    img.hidden = true;
    img.removeAttribute("src");
    stage.classList.add("no-image");
  }
  drawOverlay(page, width, height);

  const lines = $("#lines");
  lines.replaceChildren();
  if (!page.lines.length) {
    lines.append(h("li", { class: "empty", text: "No writing found on this page." }));
  }
  page.lines.forEach((line, li) => lines.append(renderLine(line, li)));

  const n = page.lines.length;
  const caption = `${page.file}${page.page > 1 ? `, page ${page.page}` : ""} · ${width}×${height} px · ` +
    `${n} line${n === 1 ? "" : "s"}` + (seconds ? ` · read in ${seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`}` : "") +
    (imageUrl ? "" : " · no preview for this format: boxes only");
  $("#caption").textContent = caption;
  $("#json").textContent = JSON.stringify(page, null, 2);
  $("#result").hidden = false;
  setStatus(n ? "" : "Nothing was read.");
  // On a phone the result is below the input: bring it into view.
  const top = $("#output").getBoundingClientRect().top;
  if (top > window.innerHeight * 0.6) $("#output").scrollIntoView({ behavior: "smooth", block: "start" });
}

// ------------------------------------------------------------------------------------------------ sending

const PREVIEWABLE = /^image\/(png|jpeg|gif|webp|bmp|avif|svg\+xml)$/;

async function send(blob, name) {
  const seq = ++state.seq;
  const limit = state.health && state.health.max_upload_bytes;
  if (limit && blob.size > limit) {
    setStatus(`This file is ${mb(blob.size)}; the server takes at most ${mb(limit)}. Send a smaller image.`, "error");
    $("#result").hidden = true;
    return;
  }
  if (!blob.size) {
    setStatus("This file is empty.", "error");
    $("#result").hidden = true;
    return;
  }
  setStatus(`Reading ${name}…`, "busy");
  const form = new FormData();
  form.append("file", blob, name);
  let res;
  let body;
  const t0 = performance.now();
  try {
    res = await fetch("/api/recognize", { method: "POST", body: form });
  } catch (err) {
    if (seq === state.seq) setStatus(`Could not reach the server (${err.message}). Is hdr-expr serve still running?`, "error");
    return;
  }
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  if (seq !== state.seq) return; // a newer request was sent meanwhile
  if (!res.ok || !body || body.error) {
    const reason = body && body.error ? body.error : `the server answered ${res.status} ${res.statusText}`;
    setStatus(`Could not read it: ${reason}`, "error");
    $("#result").hidden = true;
    return;
  }
  if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
  state.objectUrl = PREVIEWABLE.test(blob.type) ? URL.createObjectURL(blob) : null;
  render(body, state.objectUrl, (performance.now() - t0) / 1000);
}

function sendFile(file) {
  if (file) send(file, file.name || "image");
}

// ------------------------------------------------------------------------------------------------ inputs

function initInputs() {
  for (const id of ["#file-input", "#camera-input"]) {
    const input = $(id);
    input.addEventListener("change", () => {
      sendFile(input.files[0]);
      input.value = ""; // the same file again is a new read
    });
  }

  const drop = $("#drop");
  let depth = 0;
  document.addEventListener("dragenter", (e) => {
    if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) {
      depth++;
      drop.classList.add("over");
    }
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) drop.classList.remove("over");
  });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    drop.classList.remove("over");
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) {
      selectTab("photo");
      sendFile(file);
    }
  });

  document.addEventListener("paste", (e) => {
    const items = e.clipboardData ? [...e.clipboardData.items] : [];
    const item = items.find((it) => it.kind === "file");
    if (!item) return;
    e.preventDefault();
    const file = item.getAsFile();
    if (file) {
      selectTab("photo");
      send(file, file.name && file.name !== "image.png" ? file.name : "pasted.png");
    }
  });
}

function selectTab(which) {
  for (const name of ["photo", "draw"]) {
    const on = name === which;
    $(`#tab-${name}`).setAttribute("aria-selected", String(on));
    $(`#panel-${name}`).hidden = !on;
  }
  if (which === "draw") fitPad();
}

function initTabs() {
  $("#tab-photo").addEventListener("click", () => selectTab("photo"));
  $("#tab-draw").addEventListener("click", () => selectTab("draw"));
}

// ------------------------------------------------------------------------------------------------ drawing pad

function padContext() {
  const pad = $("#pad");
  const ctx = pad.getContext("2d");
  const dpr = pad.width / Math.max(1, pad.clientWidth);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  return ctx;
}

function drawStroke(ctx, s, from = 0) {
  ctx.lineWidth = s.w;
  const pts = s.pts;
  if (pts.length === 1) {
    ctx.beginPath();
    ctx.arc(pts[0][0], pts[0][1], s.w / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  const start = Math.max(0, from - 1);
  ctx.moveTo(pts[start][0], pts[start][1]);
  for (let k = start + 1; k < pts.length; k++) ctx.lineTo(pts[k][0], pts[k][1]);
  ctx.stroke();
}

function redraw() {
  const pad = $("#pad");
  const ctx = pad.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  const c = padContext();
  for (const s of state.strokes) drawStroke(c, s);
  const empty = !state.strokes.length;
  $("#undo").disabled = empty;
  $("#clear").disabled = empty;
  $("#read").disabled = empty;
}

function fitPad() {
  const pad = $("#pad");
  const r = pad.getBoundingClientRect();
  if (!r.width) return;
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(r.width * dpr);
  const hgt = Math.round(r.height * dpr);
  if (pad.width !== w || pad.height !== hgt) {
    pad.width = w;
    pad.height = hgt;
  }
  redraw();
}

function penWidth() {
  // A pen, not a marker: about a 60th of the pad's smaller side (3–8 CSS px), which keeps the strokes of
  // symbols written at a natural size (a fifth to a half of the pad's height) in MNIST's proportions.
  const pad = $("#pad");
  return Math.min(8, Math.max(3, Math.min(pad.clientWidth, pad.clientHeight) / 60));
}

function initPad() {
  const pad = $("#pad");
  const point = (e) => {
    const r = pad.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  pad.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    try {
      pad.setPointerCapture(e.pointerId);
    } catch (_) {
      // a synthetic pointer: nothing to capture
    }
    state.current = { w: penWidth(), pts: [point(e)], id: e.pointerId };
    state.strokes.push(state.current);
    drawStroke(padContext(), state.current);
    redraw();
  });
  pad.addEventListener("pointermove", (e) => {
    const s = state.current;
    if (!s || s.id !== e.pointerId) return;
    const n = s.pts.length;
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) s.pts.push(point(ev));
    drawStroke(padContext(), s, n);
  });
  const end = (e) => {
    if (state.current && state.current.id === e.pointerId) state.current = null;
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);

  $("#undo").addEventListener("click", () => {
    state.strokes.pop();
    redraw();
  });
  $("#clear").addEventListener("click", () => {
    state.strokes = [];
    redraw();
  });
  $("#read").addEventListener("click", () => {
    if (!state.strokes.length) return;
    pad.toBlob((blob) => blob && send(blob, "drawing.png"), "image/png");
  });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "z" && !$("#panel-draw").hidden) {
      e.preventDefault();
      state.strokes.pop();
      redraw();
    }
  });
  let timer = null;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(fitPad, 100);
  });
}

// ------------------------------------------------------------------------------------------------ start

async function loadHealth() {
  const el = $("#model-status");
  try {
    const res = await fetch("/api/health");
    state.health = await res.json();
    const model = state.health.model || {};
    const classes = model.classes || [];
    el.textContent = `Model: ${model.name || "default"} (${classes.length} symbols) · uploads up to ${mb(state.health.max_upload_bytes)}`;
    if (classes.length && !classes.includes("+")) {
      el.textContent += " · this model reads digits only";
      el.classList.add("warn");
    }
  } catch (_) {
    el.textContent = "The server does not answer.";
    el.classList.add("warn");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  initTabs();
  initInputs();
  initPad();
  loadHealth();
  document.body.dataset.ready = "1";
});
