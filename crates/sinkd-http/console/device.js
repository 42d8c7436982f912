// One device: its files, a search (time range, priority expression in the
// device's syntax, regex) with the API's errors next to the field, the chart
// of messages per minute by severity, and the live tail. The tail reads the
// follow endpoint (Server-Sent Events) with fetch(); pausing stops reading
// and keeps the rows where they are, resuming sends Last-Event-ID so the
// server goes on right after the last message shown.

import { getJson, follow, query, ApiError } from './api.js';
import { el, timeElement, bytes } from './format.js';
import { chip, FACILITIES } from './severity.js';
import { drawChart } from './chart.js';

const MAX_ROWS = 2000;      // rows kept in the list (the oldest go first)
const BACKLOG = 500;        // messages shown when the tail starts
const CHART_REFRESH = 30000;

const FIELDS = ['since', 'until', 'priority', 'grep'];

export function devicePage(main, device) {
  document.title = `${device} — sinkd`;
  document.getElementById('crumbs').replaceChildren(
    el('a', { href: '/', text: 'Devices' }), ' / ', el('span', { text: device }));

  const inputs = {
    since: el('input', { id: 'since', name: 'since', value: '1h', placeholder: '1h, 2026-01-10 08:00', 'aria-describedby': 'since-error' }),
    until: el('input', { id: 'until', name: 'until', placeholder: 'now', 'aria-describedby': 'until-error' }),
    priority: el('input', { id: 'priority', name: 'priority', placeholder: 'auth.*;*.err', 'aria-describedby': 'priority-error' }),
    grep: el('input', { id: 'grep', name: 'grep', placeholder: 'link (up|down)', 'aria-describedby': 'grep-error' }),
  };
  const errors = Object.fromEntries(FIELDS.map((f) => [f, el('span', { id: `${f}-error`, class: 'error field-error', role: 'alert' })]));
  const labels = { since: 'Since', until: 'Until', priority: 'Priority', grep: 'Regex' };
  const file = el('select', { id: 'file', name: 'file' });
  const form = el('form', { class: 'search', role: 'search' },
    el('div', { class: 'field' }, el('label', { for: 'file', text: 'File' }), file),
    ...FIELDS.map((f) => el('div', { class: 'field' }, el('label', { for: f, text: labels[f] }), inputs[f], errors[f])),
    el('div', { class: 'field actions' }, el('button', { type: 'submit', text: 'Search' })));
  const pause = el('button', { type: 'button', id: 'pause', 'aria-pressed': 'false', text: 'Pause' });
  const status = el('p', { id: 'tail-status', class: 'summary', 'aria-live': 'polite' });
  const general = el('p', { class: 'error', role: 'alert' });
  const chart = el('div', { id: 'chart', class: 'chart-box' });
  const list = el('tbody', { id: 'messages' });
  const scroller = el('div', { class: 'messages-box', tabindex: '0', 'aria-label': 'Messages' },
    el('table', { class: 'messages' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col', text: 'Time' }), el('th', { scope: 'col', text: 'Severity' }),
        el('th', { scope: 'col', text: 'Facility' }), el('th', { scope: 'col', text: 'App' }),
        el('th', { scope: 'col', text: 'Message' }))),
      list));
  const fileInfo = el('p', { class: 'muted' });

  main.replaceChildren(
    el('h1', { text: device }),
    form, fileInfo, general,
    el('h2', { text: 'Messages per minute by severity' }), chart,
    el('div', { class: 'tail-head' }, el('h2', { text: 'Messages' }), pause, status),
    scroller,
  );

  let run = null;         // the current search's AbortController
  let lastEventId = null; // the newest message shown by the tail
  let paused = false;
  let live = false;
  let chartTimer = null;

  function params() {
    const values = { file: file.value };
    for (const f of FIELDS) values[f] = inputs[f].value.trim();
    return values;
  }

  function clearErrors() {
    general.textContent = '';
    for (const f of FIELDS) { errors[f].textContent = ''; inputs[f].removeAttribute('aria-invalid'); }
  }

  // An API error goes next to the field it names (`priority "x": ...`).
  function showError(failure) {
    const message = failure.message;
    const field = failure instanceof ApiError && failure.status === 400
      ? FIELDS.find((f) => message.startsWith(`${f} `)) : undefined;
    if (field) {
      errors[field].textContent = message;
      inputs[field].setAttribute('aria-invalid', 'true');
    } else {
      general.textContent = message;
    }
  }

  function addRow(message) {
    const stick = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 4;
    const severity = Number(message.severity);
    list.append(el('tr', {},
      el('td', { class: 'time' }, timeElement(message.timestamp)),
      el('td', {}, chip(severity)),
      el('td', { text: FACILITIES[message.facility] ?? String(message.facility) }),
      el('td', { text: message.app_name ?? '' }),
      el('td', { class: 'msg', text: message.msg })));
    while (list.childElementCount > MAX_ROWS) list.firstElementChild.remove();
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  async function loadChart(values, signal) {
    try {
      const { since, until, priority, grep } = values;
      const histogram = await getJson(`/api/v1/devices/${encodeURIComponent(device)}/histogram${query({ file: values.file, since, until, priority, grep })}`, { signal });
      drawChart(chart, histogram);
    } catch (failure) {
      if (failure.name !== 'AbortError' && !(failure instanceof ApiError && failure.status === 400)) {
        chart.replaceChildren(el('p', { class: 'error', text: `No chart: ${failure.message}` }));
      }
    }
  }

  async function tail(signal, resume) {
    const values = params();
    const path = `/api/v1/devices/${encodeURIComponent(device)}/follow${query({
      file: values.file, since: resume ? '' : values.since, priority: values.priority, grep: values.grep,
      tail: resume ? '' : String(BACKLOG),
    })}`;
    status.textContent = 'Live: new messages appear as they arrive.';
    await follow(path, {
      signal,
      lastEventId: resume ? lastEventId : null,
      onEvent(event) {
        if (event.event === 'warning') { general.textContent = JSON.parse(event.data).warning; return; }
        if (event.id) lastEventId = event.id;
        addRow(JSON.parse(event.data));
      },
    });
  }

  async function search({ resume = false } = {}) {
    run?.abort();
    const controller = new AbortController();
    run = controller;
    clearInterval(chartTimer);
    const values = params();
    if (!resume) {
      clearErrors();
      list.replaceChildren();
      lastEventId = null;
      history.replaceState(null, '', `${location.pathname}${query({ file: values.file, since: values.since, until: values.until, priority: values.priority, grep: values.grep })}`);
      loadChart(values, controller.signal);
    }
    live = !values.until;
    pause.hidden = !live;
    try {
      if (live) {
        chartTimer = setInterval(() => loadChart(params(), controller.signal), CHART_REFRESH);
        await tail(controller.signal, resume);
        if (!controller.signal.aborted) status.textContent = 'The server ended the live tail; search again to restart it.';
      } else {
        status.textContent = '';
        const { since, until, priority, grep } = values;
        const messages = await getJson(`/api/v1/devices/${encodeURIComponent(device)}/messages${query({ file: values.file, since, until, priority, grep, limit: MAX_ROWS })}`, { signal: controller.signal });
        for (const message of messages) addRow(message);
        status.textContent = `${messages.length} messages${messages.length === MAX_ROWS ? ' (the newest shown)' : ''}.`;
      }
    } catch (failure) {
      if (failure.name === 'AbortError') return;
      status.textContent = '';
      showError(failure);
    }
  }

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) {
      run?.abort();
      clearInterval(chartTimer);
      status.textContent = 'Paused: the list stays as it is.';
    } else {
      search({ resume: lastEventId !== null });
    }
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    paused = false;
    pause.setAttribute('aria-pressed', 'false');
    pause.textContent = 'Pause';
    search();
  });

  async function start() {
    const wanted = new URLSearchParams(location.search);
    for (const f of FIELDS) if (wanted.has(f)) inputs[f].value = wanted.get(f);
    try {
      const files = await getJson(`/api/v1/devices/${encodeURIComponent(device)}`);
      for (const f of files) file.append(el('option', { value: f.name, text: f.name }));
      const preferred = wanted.get('file') ?? (files.some((f) => f.name === 'messages') ? 'messages' : files[0]?.name);
      if (preferred) file.value = preferred;
      const describe = () => {
        const f = files.find((x) => x.name === file.value);
        fileInfo.replaceChildren(...(f ? [`${f.name}: ${bytes(f.bytes)} in ${f.segments} segment${f.segments === 1 ? '' : 's'}, last written `, timeElement(f.last_modified)] : []));
      };
      describe();
      file.addEventListener('change', () => { describe(); search(); });
    } catch (failure) {
      showError(failure);
      return;
    }
    search();
  }

  start();
}
