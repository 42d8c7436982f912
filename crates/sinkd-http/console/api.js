// The read API, with the bearer token when the server asks for one. The
// token is typed into the page's dialog and kept in sessionStorage (this
// tab only); it is sent as `Authorization: Bearer`, also for the live
// tail, which is read with fetch() rather than EventSource for that reason.

const KEY = 'sinkd-token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(KEY);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

let asking = null;

// Shows the token dialog until a token is given.
function askToken(wrong) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const dialog = document.getElementById('login');
    const form = document.getElementById('login-form');
    const input = document.getElementById('login-token');
    document.getElementById('login-error').textContent = wrong ? 'That token was refused.' : '';
    form.addEventListener('submit', () => {
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = '';
      asking = null;
      resolve();
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
  return asking;
}

// fetch() of an API path; 401 asks for the token and tries again.
export async function request(path, { signal, extraHeaders } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(path, { headers: headers(extraHeaders), signal, cache: 'no-store' });
    if (response.status === 401 && attempt < 5) {
      await askToken(attempt > 0 || sessionStorage.getItem(KEY) !== null);
      continue;
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).error ?? message; } catch { /* not JSON */ }
      throw new ApiError(response.status, message);
    }
    return response;
  }
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// Reads a Server-Sent Events stream: `onEvent({id, event, data})` for each
// event, until the stream ends or `signal` aborts. Resolves when it ends.
export async function follow(path, { signal, lastEventId, onEvent }) {
  const extraHeaders = lastEventId ? { 'Last-Event-ID': String(lastEventId) } : {};
  const response = await request(path, { signal, extraHeaders });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { id: null, event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') event.id = text;
        else if (field === 'event') event.event = text;
        else if (field === 'data') event.data += event.data ? `\n${text}` : text;
      }
      if (event.data) onEvent(event);
    }
  }
}
