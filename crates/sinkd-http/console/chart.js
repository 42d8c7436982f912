// Messages per minute by severity as stacked SVG bars, drawn with the DOM
// (no inline markup), coloured by the .sev-N classes, with a legend that
// names each severity and a label that sums the range up for screen readers.

import { SEVERITIES } from './severity.js';

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 960;
const HEIGHT = 180;
const PAD = { left: 44, right: 30, top: 8, bottom: 22 };

function svg(tag, attributes = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

// `histogram`: the API's {first_minute, counts: [[8]...], complete}.
export function drawChart(container, histogram) {
  const counts = histogram.counts;
  const start = new Date(histogram.first_minute).getTime();
  const totals = counts.map((minute) => minute.reduce((a, b) => a + b, 0));
  const peak = Math.max(1, ...totals);
  const bySeverity = SEVERITIES.map((_, s) => counts.reduce((n, minute) => n + minute[s], 0));
  const sum = bySeverity.reduce((a, b) => a + b, 0);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const barW = plotW / Math.max(1, counts.length);
  const described = bySeverity.map((n, s) => (n ? `${SEVERITIES[s]} ${n}` : null)).filter(Boolean).join(', ');
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', class: 'chart',
    'aria-label': `Messages per minute over ${counts.length} minutes, peak ${peak}: ${sum} in all${described ? ` (${described})` : ''}`,
  });
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - fraction);
    root.append(svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: 'grid' }));
    const label = svg('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' });
    label.textContent = String(Math.round(peak * fraction));
    root.append(label);
  }
  counts.forEach((minute, i) => {
    let y = PAD.top + plotH;
    const x = PAD.left + i * barW;
    minute.forEach((n, severity) => {
      if (!n) return;
      const h = (n / peak) * plotH;
      y -= h;
      const rect = svg('rect', { x, y, width: Math.max(1, barW - 1), height: h, class: `sev-${severity}` });
      const title = svg('title');
      title.textContent = `${clock.format(new Date(start + i * 60000))}: ${n} ${SEVERITIES[severity]}`;
      rect.append(title);
      root.append(rect);
    });
  });
  const ticks = Math.min(8, counts.length);
  for (let t = 0; t < ticks; t += 1) {
    const i = Math.round((t * (counts.length - 1)) / Math.max(1, ticks - 1));
    const label = svg('text', { x: PAD.left + i * barW + barW / 2, y: HEIGHT - 6, 'text-anchor': 'middle', class: 'axis' });
    label.textContent = clock.format(new Date(start + i * 60000));
    root.append(label);
  }
  const legend = document.createElement('ul');
  legend.className = 'legend';
  bySeverity.forEach((n, severity) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch sev-${severity}`;
    item.append(swatch, `${SEVERITIES[severity]} ${n}`);
    legend.append(item);
  });
  const note = document.createElement('p');
  note.className = 'muted';
  note.textContent = histogram.complete ? '' : 'The count stopped at its line bound: later minutes are incomplete.';
  container.replaceChildren(root, legend, note);
}
