// The eight severities of the device manual, emerg (0) to debug (7). Their
// colours live in style.css (.sev-N), so the tables, chips and the chart
// agree; every use also prints the name, never the colour alone.

export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron',
  'authpriv', 'ftp', 'ntp', 'security', 'console', 'fac15',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

// A chip: the severity's name on its colour.
export function chip(severity) {
  const span = document.createElement('span');
  span.className = `chip sev-${severity}`;
  span.textContent = SEVERITIES[severity] ?? String(severity);
  return span;
}
