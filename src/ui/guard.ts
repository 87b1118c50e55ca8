/**
 * Who may talk to the console: requests whose Host header names this server (against DNS
 * rebinding), that carry its token (as Jupyter does), and only read (GET). Also the headers every
 * response carries.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import type { MiddlewareHandler } from 'hono';

/** A new token: 24 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Compares in time that does not depend on where the strings differ, nor on their lengths: both
 * are hashed first, so timingSafeEqual always sees two buffers of one length.
 */
export function sameToken(given: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * The host names a browser may use to reach the server: the loopback names, the host it was bound
 * to, and, bound to every interface, this machine's addresses. A page of another site that gets
 * its own name resolved to 127.0.0.1 (DNS rebinding) sends that name, which is not among them.
 */
export function allowedHosts(boundHost: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', bracketed(boundHost).toLowerCase()]);
  if (boundHost === '0.0.0.0' || boundHost === '::') {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) names.add(bracketed(a.address).toLowerCase());
    }
  }
  return names;
}

/** An IPv6 address as a Host header writes it. */
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Whether a Host header value names one of `names` with `port`. */
export function hostAllowed(header: string | undefined, names: Set<string>, port: number): boolean {
  if (header === undefined) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(header);
  if (m === null) return false;
  const hostPort = m[2] === undefined ? 80 : Number(m[2]);
  return hostPort === port && names.has(m[1]!.toLowerCase());
}

/** The cookie that carries the token after its first use: per port, as cookies ignore ports. */
export const cookieName = (port: number): string => `journal-ui-${port}`;

export interface GuardOptions {
  token: string;
  port: number;
  names: Set<string>;
}

const refused = (status: 403 | 405, text: string, extra: Record<string, string> = {}) =>
  new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...extra } });

/**
 * The gate in front of every route. A page URL with the right `?token=` sets the cookie and
 * redirects to the same URL without it, so the token does not stay in the address bar or the
 * history; from then on the cookie is enough.
 */
export function guard({ token, port, names }: GuardOptions): MiddlewareHandler {
  const cookie = cookieName(port);
  return async (c, next) => {
    if (!hostAllowed(c.req.header('host'), names, port)) {
      return refused(403, 'Refused: this console answers only to localhost, 127.0.0.1, [::1] or the host it was started on, with its port.');
    }
    // Nothing may change the journal: there is no route but GET, and no other method gets past here.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return refused(405, 'Refused: this console only reads.', { allow: 'GET, HEAD' });
    const url = new URL(c.req.url);
    const fromQuery = url.searchParams.get('token');
    if (fromQuery !== null) {
      if (!sameToken(fromQuery, token)) return refused(403, 'Refused: wrong token. Open the URL journal ui printed.');
      url.searchParams.delete('token');
      return new Response(null, {
        status: 303,
        headers: {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${cookie}=${token}; Path=/; HttpOnly; SameSite=Strict`,
          'cache-control': 'no-store',
        },
      });
    }
    const given = cookieValue(c.req.header('cookie'), cookie);
    if (given === undefined || !sameToken(given, token)) {
      return refused(403, 'Refused: this console needs its token. Open the URL journal ui printed (it ends with ?token=...).');
    }
    await next();
    const h = c.res.headers;
    h.set('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    h.set('x-content-type-options', 'nosniff');
    h.set('referrer-policy', 'no-referrer');
    h.set('x-frame-options', 'DENY');
    h.set('cache-control', 'no-store');
    return undefined;
  };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
