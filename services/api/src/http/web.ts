import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/** Name of the cookie that carries the dashboard token after a first `?token=` visit (HttpOnly, SameSite=Strict). */
export const TOKEN_COOKIE = 'agentsight_token';

/**
 * The Content-Security-Policy of every response: scripts, styles, images, fonts and connections only from the page's
 * own origin, no inline script, no plugins, no framing. (`style-src 'unsafe-inline'` is allowed on `/api/docs` only:
 * Swagger UI needs it; that page shows no captured data.)
 */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Options of {@link webGuard}. */
export interface WebGuardOptions {
  /** Required on every request when set (header `Authorization: Bearer …`, cookie {@link TOKEN_COOKIE}, or `?token=`). */
  token: string | null;
  /** Host names the `Host` header may carry when bound to loopback (DNS-rebinding guard); null = any. */
  allowedHosts: string[] | null;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: Request, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

/**
 * Express middleware in front of everything the api serves (pages, API, live channel): security headers (CSP,
 * nosniff, no referrer, no framing); on a loopback bind a `Host` header check (a page of another site resolving to
 * 127.0.0.1 cannot read the API); with a token, 401 for any request without it — loopback included — and a first
 * `?token=` visit answered with an HttpOnly, SameSite=Strict cookie and a redirect to the same URL without the token.
 */
export function webGuard(opts: WebGuardOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Content-Security-Policy', req.path.startsWith('/api/docs') ? DOCS_CSP : CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (opts.allowedHosts) {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
      if (!opts.allowedHosts.includes(host)) {
        res.status(421).type('text/plain').send(`host ${JSON.stringify(host)} not served here (DNS rebinding guard): use 127.0.0.1 or localhost`);
        return;
      }
    }
    if (!opts.token) return next();
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : null;
    const fromQuery = typeof req.query.token === 'string' ? req.query.token : null;
    if ((bearer && same(bearer, opts.token)) || (cookie(req, TOKEN_COOKIE) && same(cookie(req, TOKEN_COOKIE)!, opts.token))) return next();
    if (fromQuery && same(fromQuery, opts.token)) {
      res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(opts.token)}; HttpOnly; SameSite=Strict; Path=/`);
      const url = new URL(req.originalUrl, 'http://x');
      url.searchParams.delete('token');
      res.redirect(303, url.pathname + url.search);
      return;
    }
    res.status(401).type('text/plain').send('401: this agentsight dashboard needs its token (printed by agentsight serve, or AGENTSIGHT_UI_TOKEN): open the URL with ?token=… once');
  };
}

/**
 * Serves the built dashboard (`apps/dashboard/dist`): its files, and `index.html` for every other GET outside `/api`,
 * `/metrics` and `/assets` (client-side routes such as `/calls/<id>`; read per request, so a rebuild is served at once). A missing
 * asset is a 404; when the dashboard is not built, pages answer 503 saying so.
 */
export function dashboardStatic(dir: string, serveStatic: (root: string, o: object) => (req: Request, res: Response, next: NextFunction) => void) {
  const index = join(dir, 'index.html');
  const files = serveStatic(dir, { index: false, fallthrough: true, maxAge: '1h', setHeaders: (res: Response, p: string) => p.endsWith('.html') && res.setHeader('Cache-Control', 'no-cache') });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/api' || req.path.startsWith('/api/') || req.path === '/metrics') return next();
    files(req, res, () => {
      if (req.path.startsWith('/assets/')) {
        res.status(404).type('text/plain').send('no such asset');
        return;
      }
      if (!existsSync(index)) {
        res.status(503).type('text/plain').send(`the dashboard is not built (${index} missing): run npm run setup`);
        return;
      }
      res.setHeader('Cache-Control', 'no-cache');
      res.type('html').send(readFileSync(index));
    });
  };
}
