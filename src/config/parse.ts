// YAML text -> typed Config, or every problem found (with YAML path and line). Pure: file contents come in as
// strings; load.ts does the reading.
import { LineCounter, parseDocument, isNode, isScalar, visit, type Document, type YAMLError } from 'yaml';
import { isHost } from '../oci/reference.ts';
import {
  DEFAULT_BLOBS,
  DEFAULT_CACHE,
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  DEFAULT_RETRIES,
  DEFAULT_SGET,
  DEFAULT_TIMEOUTS,
  MAX_FAIL_STATIC_MS,
  DOCKER_HUB_NAMES,
  type BlobsConfig,
  type Config,
  type LogLevel,
  type MetricsConfig,
  type SecretRef,
  type ServerConfig,
  type SgetConfig,
  type UpstreamAuth,
  type UpstreamBlobs,
  type UpstreamConfig,
} from './types.ts';
import {
  isObj,
  Problems,
  readBool,
  readDuration,
  readEnum,
  readInt,
  readList,
  readObj,
  readSize,
  readString,
  type Path,
  type Problem,
} from '../util/yaml-reader.ts';
import { parseSignatureLimits, SIGNATURE_LIMIT_KEYS } from './signature-limits.ts';
import { duplicateUpstreamNames } from './upstream-names.ts';
import { parseAudit } from './audit.ts';
import type { PolicySource } from '../policy/types.ts';

/** Top-level keys; sections owned by other modules are parsed by them (see parseConfigText's `extra`). */
const TOP_KEYS = [
  'listen',
  'log',
  'upstreams',
  'limits',
  'cache',
  'trust',
  'policy',
  'sget',
  'blobs',
  'audit',
  'metrics',
] as const;
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ParsedYaml {
  readonly raw: unknown;
  readonly problems: Problems;
}

/** Parse YAML text; syntax errors become problems. Duplicate keys are errors (a security config must not have two
 * values for one setting). */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const lineOf = (path: Path): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const problems = new Problems(lineOf);
  for (const e of doc.errors) {
    // With prettyErrors off the error carries only offsets (`pos`), so its line and column come from the LineCounter.
    const at = e.linePos?.[0] ?? (e.pos ? lineCounter.linePos(e.pos[0]) : undefined);
    const duplicate = e.code === 'DUPLICATE_KEY' ? duplicateKeyMessage(doc, e, lineCounter) : undefined;
    const own = e.message.split('\n')[0] ?? e.message;
    const message = duplicate ?? (at ? `${own} (column ${at.col})` : own);
    problems.list.push({ path: '(yaml)', line: at?.line, message });
  }
  return { raw: problems.empty ? doc.toJS({ maxAliasCount: 100 }) : undefined, problems };
}

/** `duplicate key "x" (first at line N)` for a DUPLICATE_KEY error, whose `pos` is the repeated key's. */
function duplicateKeyMessage(doc: Document, e: YAMLError, lineCounter: LineCounter): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Map(_, map) {
      const dup = map.items.find((p) => isNode(p.key) && p.key.range?.[0] === e.pos[0]);
      if (!dup || !isScalar(dup.key)) return undefined;
      const name = String(dup.key.value);
      const first = map.items.find((p) => isScalar(p.key) && p.key !== dup.key && String(p.key.value) === name);
      const firstAt = isNode(first?.key) && first.key.range ? lineCounter.linePos(first.key.range[0]).line : undefined;
      found = `duplicate key ${JSON.stringify(name)}${firstAt === undefined ? '' : ` (first at line ${firstAt})`}`;
      return visit.BREAK;
    },
  });
  return found;
}

export function parseListen(v: string, path: Path, problems: Problems): ServerConfig | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    problems.add(path, `must be HOST:PORT such as 127.0.0.1:5050, got ${JSON.stringify(v)}`);
    return undefined;
  }
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return { host, port };
}

function parseSecret(o: Record<string, unknown>, path: Path, problems: Problems): SecretRef | undefined {
  const file = readString(o.passwordFile, [...path, 'passwordFile'], problems);
  const env = readString(o.passwordEnv, [...path, 'passwordEnv'], problems);
  if (o.password !== undefined) {
    problems.add([...path, 'password'], 'passwords are not written into the config: use passwordFile or passwordEnv');
  }
  if (file !== undefined && env !== undefined) {
    problems.add(path, 'set passwordFile or passwordEnv, not both');
    return undefined;
  }
  if (file === undefined && env === undefined) {
    problems.add(
      path,
      'basic credentials need passwordFile (a file holding the password) or passwordEnv (an environment variable)',
    );
    return undefined;
  }
  if (env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
    problems.add([...path, 'passwordEnv'], `must be an environment variable name, got ${JSON.stringify(env)}`);
  }
  return file !== undefined ? { file } : { env: env as string };
}

function parseUpstream(v: unknown, path: Path, problems: Problems): UpstreamConfig | undefined {
  const o = readObj(v, path, problems, [
    'host',
    'aliases',
    'url',
    'default',
    'libraryPrefix',
    'auth',
    'caFile',
    'timeouts',
    'retries',
    'tokenRealms',
    'allowPrivateNetworks',
    'blobs',
    'failStatic',
  ]);
  if (!o) {
    if (v === undefined || v === null) problems.add(path, 'must be a mapping with at least `host`');
    return undefined;
  }
  let host = readString(o.host, [...path, 'host'], problems)?.toLowerCase();
  if (o.host === undefined)
    problems.add([...path, 'host'], 'is required: the registry host name used in image references, e.g. ghcr.io');
  if (host !== undefined && !isHost(host)) {
    problems.add([...path, 'host'], `is not a registry host name: ${JSON.stringify(host)}`);
    host = undefined;
  }
  const aliases = (readList(o.aliases, [...path, 'aliases'], problems) ?? []).flatMap((a, i) => {
    const s = readString(a, [...path, 'aliases', i], problems)?.toLowerCase();
    if (s !== undefined && !isHost(s))
      problems.add([...path, 'aliases', i], `is not a registry host name: ${JSON.stringify(s)}`);
    return s === undefined ? [] : [s];
  });
  const isHub = host !== undefined && DOCKER_HUB_NAMES.includes(host);
  let url = readString(o.url, [...path, 'url'], problems);
  if (url === undefined && host !== undefined) url = isHub ? 'https://registry-1.docker.io' : `https://${host}`;
  if (url !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      problems.add([...path, 'url'], `is not a URL: ${JSON.stringify(url)}`);
    }
    if (u) {
      if (u.protocol !== 'https:' && u.protocol !== 'http:')
        problems.add([...path, 'url'], 'must start with https:// (or http:// for a plain-HTTP registry)');
      if (u.pathname !== '/' || u.search || u.hash)
        problems.add([...path, 'url'], 'must be the registry root, without a path (sigward adds /v2/…)');
      if (u.username || u.password)
        problems.add(
          [...path, 'url'],
          'must not contain credentials: use auth.username with passwordFile or passwordEnv',
        );
      url = `${u.protocol}//${u.host}`;
    }
  }
  let auth: UpstreamAuth = { kind: 'anonymous' };
  const a = readObj(o.auth, [...path, 'auth'], problems, ['username', 'passwordFile', 'passwordEnv', 'password']);
  if (a) {
    const username = readString(a.username, [...path, 'auth', 'username'], problems);
    if (username === undefined) problems.add([...path, 'auth', 'username'], 'is required when auth is set');
    const password = parseSecret(a, [...path, 'auth'], problems);
    if (username !== undefined && password !== undefined) auth = { kind: 'basic', username, password };
  }
  const t = readObj(o.timeouts, [...path, 'timeouts'], problems, ['connect', 'headers', 'body']);
  const range = { min: 100, max: 3_600_000 };
  const timeouts = {
    connectMs:
      readDuration(t?.connect, [...path, 'timeouts', 'connect'], problems, range) ?? DEFAULT_TIMEOUTS.connectMs,
    headersMs:
      readDuration(t?.headers, [...path, 'timeouts', 'headers'], problems, range) ?? DEFAULT_TIMEOUTS.headersMs,
    bodyMs: readDuration(t?.body, [...path, 'timeouts', 'body'], problems, range) ?? DEFAULT_TIMEOUTS.bodyMs,
  };
  const caFile = readString(o.caFile, [...path, 'caFile'], problems);
  if (caFile !== undefined && url?.startsWith('http:'))
    problems.add([...path, 'caFile'], 'is set but url is plain http://; use https://');
  const tokenRealms = parseTokenRealms(o.tokenRealms, [...path, 'tokenRealms'], problems);
  const allowPrivateNetworks = readBool(o.allowPrivateNetworks, [...path, 'allowPrivateNetworks'], problems) ?? false;
  const blobs = readEnum<UpstreamBlobs>(o.blobs, [...path, 'blobs'], problems, ['relay', 'redirect', 'cache']);
  const failStaticMs = readDuration(o.failStatic, [...path, 'failStatic'], problems, {
    min: 60_000,
    max: MAX_FAIL_STATIC_MS,
  });
  if (host === undefined || url === undefined) return undefined;
  return {
    host,
    aliases: isHub ? [...new Set([...DOCKER_HUB_NAMES.filter((n) => n !== host), ...aliases])] : aliases,
    url,
    default: readBool(o.default, [...path, 'default'], problems) ?? false,
    libraryPrefix: readBool(o.libraryPrefix, [...path, 'libraryPrefix'], problems) ?? isHub,
    auth,
    ...(caFile === undefined ? {} : { caFile }),
    timeouts,
    retries: readInt(o.retries, [...path, 'retries'], problems, { min: 0, max: 10 }) ?? DEFAULT_RETRIES,
    tokenRealms,
    allowPrivateNetworks,
    ...(blobs === undefined ? {} : { blobs }),
    ...(failStaticMs === undefined ? {} : { failStaticMs }),
  };
}

/** Hosts of token services that may get an upstream's credentials: `host` or `host:port`, as a URL spells its host. */
function parseTokenRealms(v: unknown, path: Path, problems: Problems): string[] {
  return (readList(v, path, problems) ?? []).flatMap((r, i) => {
    const s = readString(r, [...path, i], problems)?.toLowerCase();
    if (s === undefined) return [];
    if (!isHost(s)) {
      problems.add(
        [...path, i],
        `must be a host name with an optional port, such as auth.example.com or auth.example.com:8443 (the host of the realm URL, not the URL), got ${JSON.stringify(s)}`,
      );
      return [];
    }
    return [s];
  });
}

function parseUpstreams(v: unknown, problems: Problems): UpstreamConfig[] {
  const list = readList(v, ['upstreams'], problems);
  if (!list || list.length === 0) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) {
      problems.add(
        ['upstreams'],
        'at least one upstream registry is required (sigward only ever contacts the registries listed here)',
      );
    }
    return [];
  }
  const parsed = list.map((item, i) => parseUpstream(item, ['upstreams', i], problems));
  for (const d of duplicateUpstreamNames(parsed)) {
    problems.add(['upstreams', d.index, 'host'], `host name ${d.name} is already used by upstreams[${d.previous}]`);
  }
  const out = parsed.filter((u) => u !== undefined);
  const defaults = out.filter((u) => u.default);
  if (defaults.length > 1)
    problems.add(
      ['upstreams'],
      `only one upstream may be the default; found ${defaults.map((u) => u.host).join(', ')}`,
    );
  return out;
}

/** The `blobs` section: which /v2/ blobs are served. */
function parseBlobs(v: unknown, problems: Problems): BlobsConfig {
  const o = readObj(v, ['blobs'], problems, ['serve', 'entries']);
  return {
    serve:
      readEnum<BlobsConfig['serve']>(o?.serve, ['blobs', 'serve'], problems, ['all', 'referenced']) ??
      DEFAULT_BLOBS.serve,
    entries:
      readInt(o?.entries, ['blobs', 'entries'], problems, { min: 1000, max: 100_000_000 }) ?? DEFAULT_BLOBS.entries,
  };
}

/** The `sget` section: the verified-download store's disk budget and the largest artifact it takes. */
function parseSget(v: unknown, problems: Problems): SgetConfig {
  const o = readObj(v, ['sget'], problems, ['storeSize', 'maxArtifactSize']);
  const storeBytes =
    readSize(o?.storeSize, ['sget', 'storeSize'], problems, { min: 1024 ** 2, max: 1024 ** 5 }) ??
    DEFAULT_SGET.storeBytes;
  const maxArtifactBytes =
    readSize(o?.maxArtifactSize, ['sget', 'maxArtifactSize'], problems, { min: 1, max: 1024 ** 5 }) ??
    Math.min(DEFAULT_SGET.maxArtifactBytes, storeBytes);
  if (maxArtifactBytes > storeBytes) {
    problems.add(
      ['sget', 'maxArtifactSize'],
      `is ${maxArtifactBytes} bytes, more than sget.storeSize (${storeBytes} bytes): an artifact must fit in the store; raise storeSize or lower maxArtifactSize`,
    );
  }
  return { storeBytes, maxArtifactBytes };
}

export interface ParseResult {
  readonly config: Config | undefined;
  /** The `trust` and `policy` sections, for policy/compile. */
  readonly policySource: PolicySource;
  readonly problems: readonly Problem[];
  /** The collector, so other sections (trust, policy, sget) can add their problems with lines. */
  readonly collector: Problems;
}

/** The `metrics` section: `listen: off | main | HOST:PORT`. A separate address must not be the proxy's own. */
function parseMetrics(v: unknown, main: ServerConfig | undefined, problems: Problems): MetricsConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o = readObj(v, ['metrics'], problems, ['listen']);
  const s = readString(o?.listen, ['metrics', 'listen'], problems);
  if (o === undefined || s === undefined) {
    if (o !== undefined && o.listen === undefined)
      problems.add(['metrics', 'listen'], 'is required: off, main (the proxy listener) or HOST:PORT');
    return undefined;
  }
  if (s === 'off' || s === 'main') return { listen: s };
  const at = parseListen(s, ['metrics', 'listen'], problems);
  if (at !== undefined && main !== undefined && at.port !== 0 && at.port === main.port && at.host === main.host)
    problems.add(['metrics', 'listen'], 'is the proxy listen address; write `main` to serve /metrics there');
  return at === undefined ? undefined : { listen: at };
}

/** The `trust` and `policy` sections of a parsed document; none when it is not a mapping (a problem this module
 * reports once). */
export function policySource(raw: unknown): PolicySource {
  return isObj(raw) ? { trust: raw.trust, policy: raw.policy } : {};
}

/** Parse the sections owned by the proxy core; the trust and policy sections are handed on as `policySource`. */
export function parseConfigText(text: string): ParseResult {
  const { raw, problems } = parseYaml(text);
  const result = (config: Config | undefined): ParseResult => ({
    config,
    policySource: policySource(raw),
    problems: problems.list,
    collector: problems,
  });
  if (!problems.empty) return result(undefined);
  if (raw === undefined || raw === null) {
    problems.add([], 'the file is empty: it needs at least an `upstreams` list');
    return result(undefined);
  }
  const top = readObj(raw, [], problems, TOP_KEYS);
  if (!top) return result(undefined);

  const listenStr = readString(top.listen, ['listen'], problems);
  const listen = listenStr === undefined ? DEFAULT_LISTEN : parseListen(listenStr, ['listen'], problems);
  const log = readObj(top.log, ['log'], problems, ['level']);
  const logLevel = readEnum(log?.level, ['log', 'level'], problems, LOG_LEVELS) ?? 'info';
  const upstreams = parseUpstreams(top.upstreams, problems);
  const l = readObj(top.limits, ['limits'], problems, [
    'manifestBytes',
    'errorBodyBytes',
    'listBytes',
    'bodyDeadline',
    'minBodyRate',
    'bodyRateWindow',
    ...SIGNATURE_LIMIT_KEYS,
  ]);
  const limits = {
    ...parseSignatureLimits(l, problems),
    manifestBytes:
      readSize(l?.manifestBytes, ['limits', 'manifestBytes'], problems, { min: 1024, max: 64 * 1024 ** 2 }) ??
      DEFAULT_LIMITS.manifestBytes,
    errorBodyBytes:
      readSize(l?.errorBodyBytes, ['limits', 'errorBodyBytes'], problems, { min: 256, max: 1024 ** 2 }) ??
      DEFAULT_LIMITS.errorBodyBytes,
    listBytes:
      readSize(l?.listBytes, ['limits', 'listBytes'], problems, { min: 1024, max: 64 * 1024 ** 2 }) ??
      DEFAULT_LIMITS.listBytes,
    bodyDeadlineMs:
      readDuration(l?.bodyDeadline, ['limits', 'bodyDeadline'], problems, { min: 100, max: 24 * 3_600_000 }) ??
      DEFAULT_LIMITS.bodyDeadlineMs,
    minBodyRate:
      readSize(l?.minBodyRate, ['limits', 'minBodyRate'], problems, { min: 0, max: 1024 ** 3 }) ??
      DEFAULT_LIMITS.minBodyRate,
    bodyRateWindowMs:
      readDuration(l?.bodyRateWindow, ['limits', 'bodyRateWindow'], problems, { min: 100, max: 3_600_000 }) ??
      DEFAULT_LIMITS.bodyRateWindowMs,
  };
  const c = readObj(top.cache, ['cache'], problems, [
    'dir',
    'manifestMemory',
    'allowTtl',
    'denyTtl',
    'verdictEntries',
    'verdictMemory',
    'stateSize',
  ]);
  const cache = {
    allowTtlMs:
      readDuration(c?.allowTtl, ['cache', 'allowTtl'], problems, { min: 0, max: 7 * 24 * 3_600_000 }) ??
      DEFAULT_CACHE.allowTtlMs,
    denyTtlMs:
      readDuration(c?.denyTtl, ['cache', 'denyTtl'], problems, { min: 0, max: 24 * 3_600_000 }) ??
      DEFAULT_CACHE.denyTtlMs,
    verdictEntries:
      readInt(c?.verdictEntries, ['cache', 'verdictEntries'], problems, { min: 1, max: 10_000_000 }) ??
      DEFAULT_CACHE.verdictEntries,
    verdictMemoryBytes:
      readSize(c?.verdictMemory, ['cache', 'verdictMemory'], problems, { min: 64 * 1024, max: 16 * 1024 ** 3 }) ??
      DEFAULT_CACHE.verdictMemoryBytes,
    dir: readString(c?.dir, ['cache', 'dir'], problems) ?? DEFAULT_CACHE.dir,
    manifestMemoryBytes:
      readSize(c?.manifestMemory, ['cache', 'manifestMemory'], problems, { min: 0, max: 16 * 1024 ** 3 }) ??
      DEFAULT_CACHE.manifestMemoryBytes,
    stateBytes:
      readSize(c?.stateSize, ['cache', 'stateSize'], problems, { min: 0, max: 64 * 1024 ** 3 }) ??
      DEFAULT_CACHE.stateBytes,
  };
  const sget = parseSget(top.sget, problems);
  const blobs = parseBlobs(top.blobs, problems);
  const audit = parseAudit(top.audit, problems);
  const metrics = parseMetrics(top.metrics, listen, problems);
  const config: Config | undefined =
    problems.empty && listen !== undefined
      ? {
          listen,
          logLevel,
          upstreams,
          limits,
          cache,
          sget,
          blobs,
          ...(audit ? { audit } : {}),
          ...(metrics ? { metrics } : {}),
        }
      : undefined;
  return result(config);
}
