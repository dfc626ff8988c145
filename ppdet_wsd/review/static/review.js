// The review page: shows the pseudo boxes one image at a time (or a grid), sends each
// decision to the server at once and redraws from its answer (the server's file is the
// only state). No framework, no build step, nothing loaded from elsewhere.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const DISPLAY_SIDE = 640;  // the single view shows an image at about this long side
const MIN_DRAG = 4;        // screen pixels: a shorter drag is a click
const ui = {
  classes: [], images: [], progress: {}, index: 0, box: 0,
  mode: null,              // null | 'add' | 'redraw'
  addClass: null, heat: false, grid: false, drag: null,
};
const $ = (id) => document.getElementById(id);

function status(text, error) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

async function call(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function current() { return ui.images[ui.index]; }

function imageUrl(kind, file) { return `/api/${kind}?file=${encodeURIComponent(file)}`; }

async function load() {
  const state = await call('/api/state');
  Object.assign(ui, {classes: state.classes, images: state.images, progress: state.progress});
  const firstOpen = ui.images.findIndex((im) => !im.done);
  ui.index = firstOpen >= 0 ? firstOpen : 0;
  status(`${ui.images.length} images to check; decisions are saved to ${state.review_file}`);
  render();
}

async function decide(decision) {
  const im = current();
  if (!im) return;
  try {
    const answer = await call('/api/decision', {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(Object.assign({file: im.file}, decision)),
    });
    ui.images[ui.index] = answer.image;
    ui.progress = answer.progress;
    ui.box = Math.min(ui.box, Math.max(0, answer.image.boxes.length - 1));
    status(`saved: ${decision.action} (${answer.actions} decisions in all)`);
  } catch (err) {
    status(`not saved: ${err.message}`, true);
  }
  render();
}

function selectedBox() { const im = current(); return im && im.boxes[ui.box]; }

function boxDecision(action, extra) {
  const box = selectedBox();
  if (!box) { status('no box selected', true); return; }
  decide(Object.assign({action, box: box.id}, extra || {}));
}

function go(step) {
  if (!ui.images.length) return;
  ui.index = (ui.index + step + ui.images.length) % ui.images.length;
  ui.box = 0; ui.mode = null;
  render();
}

function rect(parent, box, cls) {
  const [x1, y1, x2, y2] = box;
  const r = document.createElementNS(SVG, 'rect');
  r.setAttribute('x', x1); r.setAttribute('y', y1);
  r.setAttribute('width', x2 - x1); r.setAttribute('height', y2 - y1);
  r.setAttribute('class', cls);
  parent.appendChild(r);
  return r;
}

function drawBoxes(svg, im, withSelection) {
  svg.setAttribute('viewBox', `0 0 ${im.width} ${im.height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.replaceChildren();
  im.boxes.forEach((b, k) => {
    const selected = withSelection && k === ui.box;
    const r = rect(svg, b.box, `${b.state}${selected ? ' selected' : ''}`);
    r.dataset.index = k;
    if (withSelection) {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', b.box[0] + 1);
      t.setAttribute('y', Math.max(b.box[1] - 2, 10 * im.height / DISPLAY_SIDE));
      t.style.fontSize = `${12 * Math.max(im.width, im.height) / DISPLAY_SIDE}px`;
      t.textContent = `${k + 1} ${b.class}${b.origin === 'pseudo' ? ' ' + b.score.toFixed(2) : ''}`;
      svg.appendChild(t);
    }
  });
}

function renderProgress() {
  $('progress').replaceChildren(...ui.classes.map((c) => {
    const p = ui.progress[c] || {done: 0, total: 0};
    const s = document.createElement('span');
    s.textContent = `${c} ${p.done}/${p.total}`;
    s.dataset.class = c;
    if (p.total && p.done === p.total) s.className = 'complete';
    return s;
  }));
}

function renderSingle() {
  const im = current();
  if (!im) { $('image-title').textContent = 'nothing to review'; return; }
  const scale = DISPLAY_SIDE / Math.max(im.width, im.height);
  const photo = $('photo');
  if (photo.dataset.file !== im.file) {
    photo.src = imageUrl('image', im.file);
    photo.dataset.file = im.file;
  }
  photo.style.width = `${Math.round(im.width * scale)}px`;
  photo.style.height = `${Math.round(im.height * scale)}px`;
  $('heat').hidden = !(ui.heat && im.heat);
  if (ui.heat && im.heat) $('heat').src = imageUrl('heat', im.file);
  drawBoxes($('overlay'), im, true);
  $('image-title').textContent = `${ui.index + 1}/${ui.images.length}: ${im.file}`;
  $('image-state').textContent = `label: ${im.labels.join(';') || 'good'} | ` +
    (im.no_defect ? 'no defect visible' : im.done ? 'done' : im.reviewed ? 'in review' : 'not reviewed') +
    (im.heat ? '' : ' | no heat map');
  $('no-defect').classList.toggle('on', im.no_defect);
  $('heat-toggle').classList.toggle('on', ui.heat);
  $('mode').textContent = ui.mode === 'add' ? `drag a rectangle to add a "${addClass()}" box (Esc: cancel)`
    : ui.mode === 'redraw' ? `drag a rectangle to redraw box ${ui.box + 1} (Esc: cancel)` : '';
  $('boxes').replaceChildren(...im.boxes.map((b, k) => {
    const li = document.createElement('li');
    li.className = k === ui.box ? 'selected' : '';
    li.dataset.index = k;
    const label = document.createElement('span');
    label.append(`${b.class} `, Object.assign(document.createElement('span'), {
      className: `state state-${b.state}`, textContent: b.state}),
    ` ${b.origin === 'pseudo' ? 'score ' + b.score.toFixed(2) : 'drawn'}` +
    (b.edits.length ? ` (${b.edits.join(', ')})` : ''));
    const buttons = [['accept', 'a'], ['reject', 'r'], ['redraw', 'd']].map(([action, key]) => {
      const button = document.createElement('button');
      button.textContent = `${action} (${key})`;
      button.dataset.action = action;
      button.onclick = () => { ui.box = k; act(key); };
      return button;
    });
    const select = document.createElement('select');
    select.title = 'class (c, 1-9)';
    ui.classes.forEach((c) => select.add(new Option(c, c, false, c === b.class)));
    select.onchange = () => { ui.box = k; boxDecision('relabel', {class: select.value}); };
    li.append(label, document.createElement('br'), ...buttons, select);
    li.onclick = (event) => { if (event.target === li || event.target === label) { ui.box = k; render(); } };
    return li;
  }));
}

function renderGrid() {
  $('grid').replaceChildren(...ui.images.map((im, k) => {
    const card = document.createElement('div');
    card.className = `card${k === ui.index ? ' current' : ''}${im.done ? ' done' : ''}`;
    card.dataset.file = im.file;
    const thumb = document.createElement('div');
    thumb.className = 'thumb';
    const img = document.createElement('img');
    img.loading = 'lazy';
    img.src = imageUrl('image', im.file);
    const svg = document.createElementNS(SVG, 'svg');
    drawBoxes(svg, im, false);
    thumb.append(img, svg);
    const name = document.createElement('div');
    name.className = 'name';
    const pending = im.boxes.filter((b) => b.state === 'pending').length;
    name.textContent = `${im.file} | ${im.labels.join(';')} | ` +
      (im.no_defect ? 'no defect' : im.done ? 'done' : `${pending} pending`);
    card.append(thumb, name);
    card.onclick = () => { ui.index = k; ui.box = 0; ui.grid = false; render(); };
    return card;
  }));
}

function render() {
  renderProgress();
  $('single').hidden = ui.grid;
  $('grid').hidden = !ui.grid;
  $('view-toggle').textContent = ui.grid ? 'Single view (g)' : 'Grid view (g)';
  if (ui.grid) renderGrid(); else renderSingle();
}

function addClass() {
  const im = current();
  return ui.addClass || (im && im.labels[0]) || ui.classes[0];
}

function act(key, event) {
  const im = current();
  const boxCount = im ? im.boxes.length : 0;
  switch (key) {
    case 'ArrowRight': case ' ': go(1); break;
    case 'ArrowLeft': go(-1); break;
    case 'Tab':
      if (boxCount) ui.box = (ui.box + (event && event.shiftKey ? -1 : 1) + boxCount) % boxCount;
      render(); break;
    case 'a': boxDecision('accept'); break;
    case 'r': boxDecision('reject'); break;
    case 'd': if (selectedBox()) { ui.mode = 'redraw'; render(); } break;
    case 'c': {
      const box = selectedBox();
      if (box) boxDecision('relabel', {class: ui.classes[(ui.classes.indexOf(box.class) + 1) % ui.classes.length]});
      break;
    }
    case 'b': ui.mode = 'add'; render(); break;
    case 'A': decide({action: 'accept_all'}); break;
    case 'n': decide({action: 'no_defect', value: !(im && im.no_defect)}); break;
    case 'u': decide({action: 'reset'}); break;
    case 'h': ui.heat = !ui.heat; render(); break;
    case 'g': ui.grid = !ui.grid; render(); break;
    case '?': $('help').hidden = !$('help').hidden; break;
    case 'Escape': ui.mode = null; ui.drag = null; render(); break;
    default: {
      const number = parseInt(key, 10);
      if (number >= 1 && number <= ui.classes.length) {
        ui.addClass = ui.classes[number - 1];
        if (selectedBox() && ui.mode !== 'add') boxDecision('relabel', {class: ui.addClass});
        else render();
      } else return false;
    }
  }
  return true;
}

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.target.tagName === 'SELECT') return;
  if (act(event.key, event)) event.preventDefault();
});

// Drawing: a drag on the image adds a box, or redraws the selected one after "d".
function imagePoint(event) {
  const svg = $('overlay');
  const r = svg.getBoundingClientRect();
  const im = current();
  return [(event.clientX - r.left) / r.width * im.width, (event.clientY - r.top) / r.height * im.height,
    event.clientX, event.clientY];
}

$('overlay').addEventListener('mousedown', (event) => {
  if (!current() || event.button !== 0) return;
  const start = imagePoint(event);
  ui.drag = {start, end: start, rect: rect($('overlay'), [start[0], start[1], start[0], start[1]], 'drawing')};
  event.preventDefault();
});

window.addEventListener('mousemove', (event) => {
  if (!ui.drag) return;
  ui.drag.end = imagePoint(event);
  const [x1, y1] = ui.drag.start, [x2, y2] = ui.drag.end;
  const r = ui.drag.rect;
  r.setAttribute('x', Math.min(x1, x2)); r.setAttribute('y', Math.min(y1, y2));
  r.setAttribute('width', Math.abs(x2 - x1)); r.setAttribute('height', Math.abs(y2 - y1));
});

window.addEventListener('mouseup', (event) => {
  if (!ui.drag) return;
  const {start} = ui.drag;
  const end = imagePoint(event);
  ui.drag = null;
  const moved = Math.max(Math.abs(end[2] - start[2]), Math.abs(end[3] - start[3]));
  if (moved < MIN_DRAG) {  // a click: select the smallest box under it, if any
    const [x, y] = end;
    const under = current().boxes.map((b, k) => [(b.box[2] - b.box[0]) * (b.box[3] - b.box[1]), k, b.box])
      .filter(([, , [x1, y1, x2, y2]]) => x >= x1 && x <= x2 && y >= y1 && y <= y2).sort((p, q) => p[0] - q[0]);
    if (under.length) ui.box = under[0][1];
    render();
    return;
  }
  const xyxy = [start[0], start[1], end[0], end[1]];
  const mode = ui.mode;
  ui.mode = null;
  if (mode === 'redraw') boxDecision('redraw', {xyxy});
  else decide({action: 'add', xyxy, class: addClass()});
});

$('photo').addEventListener('error', () => {
  const file = $('photo').dataset.file;
  fetch(imageUrl('image', file)).then((r) => r.json()).catch(() => ({}))
    .then((body) => status(`cannot show ${file}: ${body.error || 'the image did not load'}`, true));
});
$('prev').onclick = () => go(-1);
$('next').onclick = () => go(1);
$('no-defect').onclick = () => act('n');
$('add-box').onclick = () => act('b');
$('accept-all').onclick = () => act('A');
$('reset').onclick = () => act('u');
$('view-toggle').onclick = () => act('g');
$('heat-toggle').onclick = () => act('h');
$('help-toggle').onclick = () => act('?');

load().catch((err) => status(`cannot load the review: ${err.message}`, true));
