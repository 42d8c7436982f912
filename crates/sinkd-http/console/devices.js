// The devices page: every device with its last message, messages per
// minute and severity mix, silent ones marked. Only the rows in view are in
// the document (fixed row height, spacers above and below), so 10,000
// devices sort, filter and scroll at once.

import { getJson } from './api.js';
import { el, timeElement, ago, bytes, devicePath } from './format.js';
import { SEVERITIES } from './severity.js';

const ROW = 36;          // px, as .devices td in style.css
const OVERSCAN = 8;      // rows drawn above and below the view
const REFRESH = 5000;    // ms between two looks at the stats
const SILENT_KEY = 'sinkd-silent-minutes';

const COLUMNS = [
  { key: 'name', label: 'Device' },
  { key: 'last', label: 'Last message' },
  { key: 'rate', label: 'Messages/min' },
  { key: 'mix', label: 'Severity mix' },
  { key: 'bytes', label: 'Stored' },
  { key: 'silent', label: 'Status' },
];

export function devicesPage(main) {
  document.title = 'Devices — sinkd';
  document.getElementById('crumbs').replaceChildren(el('span', { text: 'Devices' }));
  const state = {
    devices: [], shown: [], sort: 'name', descending: false,
    filter: '', silentMinutes: Number(localStorage.getItem(SILENT_KEY)) || 15,
    serverOffset: 0, firstDrawn: false,
  };

  const filter = el('input', { id: 'filter', type: 'search', placeholder: 'part of a name', autocomplete: 'off', 'aria-describedby': 'filter-hint' });
  const silent = el('input', { id: 'silent', type: 'number', min: '1', max: '10080', value: String(state.silentMinutes) });
  const summary = el('p', { id: 'summary', class: 'summary', 'aria-live': 'polite' });
  const error = el('p', { class: 'error', role: 'alert' });
  const head = el('tr');
  const body = el('tbody');
  const table = el('table', { class: 'devices', 'aria-label': 'Devices' }, el('thead', {}, head), body);
  const viewport = el('div', { class: 'viewport', id: 'viewport' }, table);

  for (const column of COLUMNS) {
    const button = el('button', { type: 'button', 'data-key': column.key, text: column.label });
    button.addEventListener('click', () => {
      state.descending = state.sort === column.key ? !state.descending : column.key !== 'name';
      state.sort = column.key;
      apply();
    });
    head.append(el('th', { scope: 'col', class: `col-${column.key}` }, button));
  }

  main.replaceChildren(
    el('h1', { text: 'Devices' }),
    el('div', { class: 'controls' },
      el('div', {}, el('label', { for: 'filter', text: 'Filter' }), ' ', filter,
        el('span', { id: 'filter-hint', class: 'hint', text: ' press / to come here' })),
      el('div', {}, el('label', { for: 'silent', text: 'Silent after' }), ' ', silent, ' minutes without a message'),
    ),
    summary, error, viewport,
  );

  filter.addEventListener('input', () => { state.filter = filter.value.trim().toLowerCase(); apply(); });
  silent.addEventListener('change', () => {
    const minutes = Number(silent.value);
    if (minutes > 0) { state.silentMinutes = minutes; localStorage.setItem(SILENT_KEY, String(minutes)); apply(); }
  });
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
    if (event.key === '/' && !typing) { event.preventDefault(); filter.focus(); filter.select(); }
  });
  // Arrow keys move between the rows' links, drawing rows as needed.
  viewport.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const index = Number(document.activeElement?.closest('tr')?.dataset.index);
    if (Number.isNaN(index)) return;
    event.preventDefault();
    const next = Math.max(0, Math.min(state.shown.length - 1, index + (event.key === 'ArrowDown' ? 1 : -1)));
    const top = next * ROW;
    const visible = viewport.clientHeight - ROW * 2;
    if (top < viewport.scrollTop) viewport.scrollTop = top;
    else if (top > viewport.scrollTop + visible) viewport.scrollTop = top - visible;
    draw();
    body.querySelector(`tr[data-index="${next}"] a`)?.focus();
  });
  let pending = false;
  viewport.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  });
  window.addEventListener('resize', () => draw());

  function now() { return Date.now() + state.serverOffset; }

  function isSilent(device) {
    return device.lastMs === null || now() - device.lastMs > state.silentMinutes * 60000;
  }

  function value(device, key) {
    switch (key) {
      case 'last': return device.lastMs ?? -Infinity;
      case 'rate': return device.per_minute ?? -1;
      case 'mix': return device.worst;
      case 'bytes': return device.bytes;
      case 'silent': return isSilent(device) ? 1 : 0;
      default: return device.name;
    }
  }

  function apply() {
    const { filter: text, sort, descending } = state;
    state.shown = text ? state.devices.filter((d) => d.lower.includes(text)) : state.devices.slice();
    const sign = descending ? -1 : 1;
    state.shown.sort((a, b) => {
      const x = value(a, sort);
      const y = value(b, sort);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return order !== 0 ? sign * order : (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
    for (const th of head.children) {
      const key = th.firstChild.dataset.key;
      if (key === sort) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
    const silentCount = state.devices.reduce((n, d) => n + (isSilent(d) ? 1 : 0), 0);
    summary.textContent = `${state.devices.length} devices, ${state.shown.length} shown, ${silentCount} silent (no message for ${state.silentMinutes} min)`;
    table.setAttribute('aria-rowcount', String(state.shown.length + 1));
    draw();
  }

  function spacer(height) {
    const cell = el('td', { colspan: String(COLUMNS.length) });
    const row = el('tr', { class: 'spacer', 'aria-hidden': 'true' }, cell);
    row.style.height = `${height}px`;
    return row;
  }

  function draw() {
    const total = state.shown.length;
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - OVERSCAN);
    const count = Math.ceil(viewport.clientHeight / ROW) + OVERSCAN * 2;
    const last = Math.min(total, first + count);
    const focused = document.activeElement?.closest('tbody tr')?.dataset.name;
    const rows = [spacer(first * ROW)];
    for (let i = first; i < last; i += 1) rows.push(row(state.shown[i], i));
    rows.push(spacer((total - last) * ROW));
    body.replaceChildren(...rows);
    if (focused) body.querySelector(`tr[data-name="${CSS.escape(focused)}"] a`)?.focus({ preventScroll: true });
    if (!state.firstDrawn && total > 0) {
      state.firstDrawn = true;
      performance.mark('sinkd-rows-drawn');
      document.body.dataset.ready = 'devices';
    }
  }

  function row(device, index) {
    const quiet = isSilent(device);
    const last = el('td', {}, timeElement(device.last_message),
      device.lastMs === null ? null : el('span', { class: 'muted', text: ` ${ago(now() - device.lastMs)}` }));
    if (device.last_from === 'files') last.title = 'not seen since sinkd started: the time its files were last written';
    return el('tr', { 'data-index': String(index), 'data-name': device.name, 'aria-rowindex': String(index + 2), class: quiet ? 'silent' : '' },
      el('td', { class: 'col-name' }, el('a', { href: devicePath(device.name), text: device.name })),
      last,
      el('td', { class: 'num', text: device.per_minute === null ? '—' : String(device.per_minute) }),
      el('td', {}, mix(device)),
      el('td', { class: 'num', text: bytes(device.bytes) }),
      el('td', {}, quiet ? el('span', { class: 'badge silent-badge', text: 'silent' }) : el('span', { class: 'badge', text: 'active' })),
    );
  }

  function mix(device) {
    if (!device.severities) return el('span', { class: 'muted', text: 'not seen since start', title: 'counted from the messages received since sinkd started' });
    const total = device.severities.reduce((a, b) => a + b, 0);
    const bar = el('span', { class: 'mixbar', 'aria-hidden': 'true' });
    const parts = [];
    device.severities.forEach((n, severity) => {
      if (n === 0) return;
      const piece = el('span', { class: `sev-${severity}` });
      piece.style.flexGrow = String(n);
      bar.append(piece);
      parts.push([n, severity]);
    });
    const described = parts.map(([n, s]) => `${SEVERITIES[s]} ${n}`).join(', ');
    const top = parts.slice().sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 2)
      .map(([n, s]) => `${SEVERITIES[s]} ${n}`).join(' · ');
    return el('span', { class: 'mix', title: `${total} messages since start: ${described}` }, bar,
      el('span', { class: 'mixtext', text: parts.length > 2 ? `${top} …` : top }));
  }

  async function load() {
    try {
      const stats = await getJson('/api/v1/stats/devices');
      state.serverOffset = new Date(stats.now).getTime() - Date.now();
      state.devices = stats.devices.map((d) => {
        const lastMs = d.last_message ? new Date(d.last_message).getTime() : null;
        const worst = d.severities ? d.severities.findIndex((n) => n > 0) : -1;
        return { ...d, lastMs, lower: d.name.toLowerCase(), worst: worst < 0 ? 8 : worst };
      });
      error.textContent = '';
      if (state.devices.length === 0) summary.textContent = 'No device has sent anything yet.';
      else apply();
    } catch (failure) {
      error.textContent = `Cannot read the devices: ${failure.message}`;
    }
  }

  load();
  setInterval(load, REFRESH);
}
