// An in-process JWT token issuer for distribution's `auth: token` mode (the Docker token protocol).
// distribution 2.8 (registry/auth/token/token.go) checks: iss == issuer, aud == service, exp/nbf (60 s leeway), and a
// signing key it trusts; we put the signer certificate in the JWT header `x5c`, and the same self-signed certificate is
// the registry's whole `rootcertbundle`. Clients reach us two ways:
//   GET  /token?service=S&scope=repository:NAME:pull[,push]     skopeo/podman/curl, Basic auth or anonymous
//   POST /token (form grant_type=password&username&password&service&scope)   containerd's OAuth2 flow
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { makeSigningCert } from './test-certs.ts';
import { listenOnLoopback } from './proc.ts';

export interface TokenServerOptions {
  /** Directory for the signing key and certificate. */
  dir: string;
  issuer?: string;
  service?: string;
  /** user -> password. Credentials that do not match are refused with 401. */
  users?: Record<string, string>;
  /** Grant tokens to requests without credentials (default: true only when `users` is empty). */
  anonymous?: boolean;
  /** Repository names that get a token with no actions (the registry then answers DENIED / insufficient_scope). */
  deny?: readonly string[];
  ttlSeconds?: number;
}

/** One request the issuer received (recorded even when refused). */
export interface TokenRequest {
  method: string;
  /** The authenticated user; '' for anonymous; undefined when refused. */
  user: string | undefined;
  scopes: string[];
  status: number;
}

export interface TokenServer {
  /** The realm clients call: http://127.0.0.1:PORT/token */
  url: string;
  issuer: string;
  service: string;
  /** PEM file of the signer certificate: distribution's `rootcertbundle`. */
  certFile: string;
  /** Every request so far, oldest first. */
  readonly requests: readonly TokenRequest[];
  /** Number of requests so far (tests count token fetches). */
  readonly count: number;
  /** Forget the recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** RS256 JWT whose header carries the signer certificate (x5c is standard base64 of the DER, RFC 7515 §4.1.6). */
function signJwt(claims: object, key: KeyObject, certDerB64: string): string {
  const header = { typ: 'JWT', alg: 'RS256', x5c: [certDerB64] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

/** `repository:test/x:pull,push` -> access entry. The name may hold ':' (a port), so split at the first and last. */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}

function readBody(req: IncomingMessage, cap = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) req.destroy(new Error('token request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Start the issuer on 127.0.0.1 with an OS-chosen port. */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const issuer = opts.issuer ?? 'sigward-test-issuer';
  const service = opts.service ?? 'sigward-test-registry';
  const users = new Map(Object.entries(opts.users ?? {}));
  const anonymous = opts.anonymous ?? users.size === 0;
  const deny = new Set(opts.deny ?? []);
  const ttl = opts.ttlSeconds ?? 300;
  const signer = await makeSigningCert(opts.dir);
  const key = createPrivateKey(signer.keyPem);
  const certDerB64 = signer.certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  let requests: TokenRequest[] = [];

  const reply = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token') return reply(res, 404, { error: 'not found: the token endpoint is /token' });
    let params = url.searchParams;
    let user: string | undefined;
    let pass: string | undefined;
    if (req.method === 'POST') {
      params = new URLSearchParams(await readBody(req));
      const grant = params.get('grant_type');
      if (grant !== 'password') {
        requests.push({ method: 'POST', user: undefined, scopes: params.getAll('scope'), status: 400 });
        return reply(res, 400, {
          error: 'unsupported_grant_type',
          error_description: `grant_type ${grant} is not supported`,
        });
      }
      user = params.get('username') ?? undefined;
      pass = params.get('password') ?? undefined;
    } else if (req.method !== 'GET') {
      return reply(res, 405, { error: 'use GET or POST' });
    }
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic?.[1]) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = colon < 0 ? decoded : decoded.slice(0, colon);
      pass = colon < 0 ? '' : decoded.slice(colon + 1);
    }
    const scopes = params
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    const record: TokenRequest = { method: req.method, user: undefined, scopes, status: 401 };
    requests.push(record);
    const known = user !== undefined && users.has(user) && users.get(user) === pass;
    if (user !== undefined ? !known : !anonymous) {
      return reply(
        res,
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] },
        { 'www-authenticate': 'Basic realm="sigward-test-token"' },
      );
    }
    const aud = params.get('service') ?? service;
    if (aud !== service) {
      record.status = 400;
      return reply(res, 400, {
        error: 'invalid_request',
        error_description: `unknown service ${aud}; this issuer serves ${service}`,
      });
    }
    record.user = user ?? '';
    record.status = 200;
    const access = scopes
      .map(parseScope)
      .filter((a): a is Access => a !== undefined)
      .map((a) => (deny.has(a.name) ? { ...a, actions: [] } : a));
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(
      { iss: issuer, sub: record.user, aud, exp: now + ttl, nbf: now - 5, iat: now, jti: randomUUID(), access },
      key,
      certDerB64,
    );
    reply(res, 200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) reply(res, 500, { error: err.message });
      else res.destroy(err);
    });
  });
  const { port } = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/token`,
    issuer,
    service,
    certFile: signer.certFile,
    get requests() {
      return requests;
    },
    get count() {
      return requests.length;
    },
    reset() {
      requests = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
