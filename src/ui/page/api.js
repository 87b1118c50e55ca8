// Talking to the console's server: JSON requests and event streams, and the one place where a
// failure becomes a message on the page (the server never sends a stack trace, so none is shown).

/** GET /api/<path>?<params> as JSON; a failure throws an Error with the server's message. */
export async function get(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  let res;
  try {
    res = await fetch(`/api/${path}${q.size > 0 ? `?${q}` : ''}`);
  } catch {
    throw new Error('the console\'s server does not answer: is journal ui still running?');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/**
 * Opens an event stream; `on` maps event names to handlers of their parsed data. A `failure` event
 * is shown and ends the stream; so does `done`. Returns a function that closes it.
 */
export function stream(path, params, on) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const es = new EventSource(`/api/${path}?${q}`);
  for (const [name, fn] of Object.entries(on)) {
    es.addEventListener(name, (e) => {
      fn(JSON.parse(e.data));
      if (name === 'done') es.close();
    });
  }
  es.addEventListener('failure', (e) => {
    es.close();
    const { message } = JSON.parse(e.data);
    (on.failure ?? showFailure)(message);
  });
  es.addEventListener('done', () => es.close());
  es.onerror = () => {
    // The browser retries by itself; a stream that cannot reconnect says so once.
    if (es.readyState === EventSource.CLOSED) (on.failure ?? showFailure)('lost the connection to the console\'s server: is journal ui still running?');
  };
  return () => es.close();
}

/** Shows a message in the banner at the top of the page, once per distinct message. */
export function showFailure(message) {
  const box = document.getElementById('failures');
  if ([...box.children].some((p) => p.dataset.message === message)) return;
  const p = document.createElement('p');
  p.dataset.message = message;
  p.textContent = message;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.title = 'dismiss';
  close.addEventListener('click', () => p.remove());
  p.append(close);
  box.append(p);
}
