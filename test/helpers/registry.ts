// A real upstream for tests: Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1 with an OS-chosen port
// and filesystem storage in a temp dir. Modes, combinable where distribution allows it: anonymous, htpasswd (bcrypt),
// bearer tokens from the in-process issuer, TLS with a fresh CA, and pull-through cache of another loopback registry.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { freePort, removeTempDir, startProcess, tempDir, type Proc } from './proc.ts';
import { makeTlsCerts } from './test-certs.ts';
import { startTokenServer, type TokenServer } from './token-server.ts';

export interface RegistryOptions {
  /** 'none' (default): anonymous read/write. 'htpasswd': Basic auth. 'token': Bearer tokens from an in-process issuer. */
  auth?: 'none' | 'htpasswd' | 'token';
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by a fresh CA (returned as caFile/caPem/certDir). */
  tls?: boolean;
  /** Credentials for htpasswd and token modes (default testuser / testpass). */
  user?: string;
  pass?: string;
  /** Token mode: also grant anonymous tokens; repositories whose tokens carry no actions. */
  token?: { anonymous?: boolean; deny?: readonly string[] };
  /** Pull-through cache of `remoteUrl` (loopback only); pushes are then refused by distribution. The remote
   * user/pass reach a token-auth remote only: distribution 2.8 gives them to Bearer realms, never to Basic auth. */
  proxy?: { remoteUrl: string; user?: string; pass?: string };
  /** distribution's access log (default on; turn off for benchmarks). */
  accessLog?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface Registry {
  /** Base URL without a trailing slash: http(s)://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** The temp dir with config.yml, data/, certs and logs; removed by stop(). */
  dir: string;
  user?: string;
  pass?: string;
  /** TLS mode: the CA file, its PEM text, and a directory holding only ca.crt (skopeo --cert-dir, certs.d). */
  caFile?: string;
  caPem?: string;
  certDir?: string;
  /** Token mode: the realm URL and the issuer (with its request counter). */
  tokenUrl?: string;
  tokenServer?: TokenServer;
  logFile: string;
  /** Stop the registry (and the token issuer) and remove the temp dir. */
  stop(): Promise<void>;
}

const run = promisify(execFile);

function assertLoopback(remoteUrl: string): void {
  let u: URL;
  try {
    u = new URL(remoteUrl);
  } catch {
    throw new Error(`proxy.remoteUrl ${remoteUrl} is not a URL; use http://127.0.0.1:PORT`);
  }
  if (!['127.0.0.1', 'localhost'].includes(u.hostname) || !['http:', 'https:'].includes(u.protocol)) {
    throw new Error(`proxy.remoteUrl ${remoteUrl} is not a loopback URL; tests may only contact 127.0.0.1`);
  }
}

/** distribution reads REGISTRY_* variables as config overrides (REGISTRY_AUTH_FILE would become auth.file). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
}

/** Start distribution; resolves once GET /v2/ answers 200 or 401. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const auth = opts.auth ?? 'none';
  const user = opts.user ?? 'testuser';
  const pass = opts.pass ?? 'testpass';
  if (opts.proxy) assertLoopback(opts.proxy.remoteUrl);
  const dir = tempDir('registry');
  let tokenServer: TokenServer | undefined;
  let agent: Agent | undefined;
  try {
    let port = await freePort();
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: opts.logLevel ?? 'info', formatter: 'text', accesslog: { disabled: opts.accessLog === false } },
      storage: {
        filesystem: { rootdirectory: join(dir, 'data') },
        cache: { blobdescriptor: 'inmemory' },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: {
        addr: `127.0.0.1:${port}`, // never ":PORT": tests bind loopback only
        secret: 'sigward-test-secret',
        headers: { 'X-Content-Type-Options': ['nosniff'] },
      },
    };
    const http = config.http as Record<string, unknown>;
    let tls: Awaited<ReturnType<typeof makeTlsCerts>> | undefined;
    if (opts.tls) {
      tls = await makeTlsCerts(join(dir, 'certs'));
      http.tls = { certificate: tls.certFile, key: tls.keyFile };
    }
    if (auth === 'htpasswd') {
      // bcrypt only: distribution silently ignores entries hashed any other way.
      const { stdout } = await run('htpasswd', ['-Bbn', user, pass]);
      writeFileSync(join(dir, 'htpasswd'), stdout);
      config.auth = { htpasswd: { realm: 'sigward-test-realm', path: join(dir, 'htpasswd') } };
    } else if (auth === 'token') {
      tokenServer = await startTokenServer({
        dir: join(dir, 'token'),
        users: { [user]: pass },
        anonymous: opts.token?.anonymous ?? false,
        deny: opts.token?.deny ?? [],
      });
      config.auth = {
        token: {
          realm: tokenServer.url,
          service: tokenServer.service,
          issuer: tokenServer.issuer,
          rootcertbundle: tokenServer.certFile,
        },
      };
    }
    if (opts.proxy) {
      config.proxy = {
        remoteurl: opts.proxy.remoteUrl,
        ...(opts.proxy.user !== undefined ? { username: opts.proxy.user, password: opts.proxy.pass ?? '' } : {}),
      };
    }
    const configFile = join(dir, 'config.yml');
    agent = new Agent(tls ? { connect: { ca: tls.caPem } } : {});
    const probeAgent = agent;
    const scheme = tls ? 'https' : 'http';
    let proc: Proc | undefined;
    // freePort() closes its socket before distribution binds; if another process took the port meanwhile, try again.
    for (let attempt = 1; proc === undefined; attempt++) {
      http.addr = `127.0.0.1:${port}`;
      writeFileSync(configFile, stringify(config));
      const url = `${scheme}://127.0.0.1:${port}`;
      try {
        proc = await startProcess({
          name: 'registry',
          cmd: 'docker-registry',
          args: ['serve', configFile],
          dir,
          env: cleanEnv(),
          ready: async () => {
            const res = await request(`${url}/v2/`, { dispatcher: probeAgent });
            await res.body.dump();
            return res.statusCode === 200 || res.statusCode === 401;
          },
        });
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
        port = await freePort();
      }
    }
    const url = `${scheme}://127.0.0.1:${port}`;
    await agent.close();
    agent = undefined;
    const started = proc;
    const withCreds = auth === 'htpasswd' || auth === 'token';
    return {
      url,
      host: `127.0.0.1:${port}`,
      dir,
      ...(withCreds ? { user, pass } : {}),
      ...(tls ? { caFile: tls.caFile, caPem: tls.caPem, certDir: tls.certDir } : {}),
      ...(tokenServer ? { tokenUrl: tokenServer.url, tokenServer } : {}),
      logFile: proc.logFile,
      async stop() {
        await started.stop();
        await tokenServer?.close();
        removeTempDir(dir);
      },
    };
  } catch (err) {
    await tokenServer?.close();
    await agent?.close();
    removeTempDir(dir);
    throw err;
  }
}
