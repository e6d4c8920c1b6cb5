// `sigward doctor --pull-canary IMAGE`: pull an image the policy must refuse through each runtime configured on this
// node, with that runtime's own configuration, and pass only when sigward refused it. A pull that succeeds means the
// image reached the node around (or through) the gate; a pull that fails for another reason (registry unreachable,
// a fallback that failed too) proves nothing and does not pass either.
import { spawn } from 'node:child_process';
import { clip } from '../util/clip.ts';
import { hostPort } from './types.ts';

export const CANARY_CLIENTS = ['ctr', 'skopeo', 'podman'] as const;
export type CanaryClient = (typeof CANARY_CLIENTS)[number];

export interface CanarySetup {
  readonly image: string;
  readonly clients: readonly CanaryClient[];
  /** containerd's hosts directory and socket, when containerd is configured here. */
  readonly containerd: { readonly certsDir: string; readonly address: string } | undefined;
  /** The registries.conf podman and skopeo read, when one exists. */
  readonly registriesConf: string | undefined;
  /** host:port of each address this node reaches sigward at (SigwardAddress.addresses): a refusal counts only when it
   * came from one of them. */
  readonly sigward: ReadonlySet<string>;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
}

export type CanaryOutcome = 'refused' | 'pulled' | 'failed' | 'skipped';

export interface CanaryResult {
  readonly client: CanaryClient;
  readonly outcome: CanaryOutcome;
  readonly command: readonly string[];
  /** Why (skipped), or the client's last output lines. */
  readonly detail: string;
}

interface Ran {
  readonly code: number | 'not-installed' | 'timeout';
  readonly output: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: e.code === 'ENOENT' ? 'not-installed' : 1, output: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 'timeout' : (code ?? 1), output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** What each client prints of sigward's refusal (a 403 whose reason phrase is `Forbidden (<summary>)` and whose OCI
 * error is DENIED with the decision's message, `<image> is denied[ by policy "…" (matched "…")]: <why>.`):
 * - ctr (containerd 1.7, 2.x): `pulling from host HOST failed with status code [manifests REF]: 403 Forbidden (…)`;
 *   older containerd: `unexpected status from GET request to http://HOST/v2/…: 403 Forbidden (…)`. It prints the
 *   status line only, so the marker is sigward's reason phrase: a bare `403 Forbidden` is some other server's.
 * - skopeo and podman (containers/image): `reading manifest REF in HOST/REPO: denied: <message>`.
 * The HOST must be one of sigward's addresses: the same words from another host are that host's refusal. */
const CTR_REFUSAL = [
  /pulling from host (\S+) failed with status code \[[^\]]*\]: 403 Forbidden \((.+)\)/,
  /unexpected status from [A-Z]+ request to [a-z]+:\/\/([^/\s]+)\/\S*: 403 Forbidden \((.+)\)/,
];
const CONTAINERS_REFUSAL =
  /\bin ([^/\s]+)\/\S*: denied: (\S+ (?:is denied|would be denied)(?: by policy "[^"]*" \(matched "[^"]*"\))?: .+)/;

/** A failed pull: sigward's refusal and nothing else, or why not (a fallback was tried after it, another error). */
function judgeFailure(
  client: CanaryClient,
  output: string,
  sigward: ReadonlySet<string>,
): { refused: boolean; why: string } {
  const fromSigward = (host: string, scheme: 'http' | 'https'): boolean => {
    const hp = hostPort(host, scheme);
    return (
      hp !== undefined && (sigward.has(hp) || sigward.has(hostPort(host, scheme === 'http' ? 'https' : 'http') ?? ''))
    );
  };
  if (client === 'ctr') {
    // containerd logs "trying next host" when it moves on from a host that failed or refused; its final error can
    // still be the first host's 403.
    if (/trying next host/.test(output)) {
      return { refused: false, why: 'containerd tried another host besides sigward (a fallback)' };
    }
    const m = CTR_REFUSAL.map((re) => re.exec(output)).find((x) => x !== null);
    if (m === undefined || m === null) return { refused: false, why: 'failed, but not with a refusal by sigward' };
    if (!fromSigward(m[1] as string, 'http'))
      return { refused: false, why: `refused by ${m[1]}, which is not sigward (not one of its --sigward addresses)` };
    return { refused: true, why: `refused by sigward (403: ${m[2]})` };
  }
  // A refusal by a mirror followed by the primary location reads "(Mirrors also failed: [...denied...]): <primary's
  // error>".
  if (/Mirrors also failed/.test(output)) {
    return { refused: false, why: 'sigward was a mirror and the registry was tried after it (a fallback)' };
  }
  const m = CONTAINERS_REFUSAL.exec(output);
  if (m === null) {
    return /\bdenied\b/.test(output)
      ? { refused: false, why: "denied, but not with sigward's policy decision (another server's refusal)" }
      : { refused: false, why: 'failed, but not with a refusal by sigward' };
  }
  if (!fromSigward(m[1] as string, 'https'))
    return { refused: false, why: `refused by ${m[1]}, which is not sigward (not one of its --sigward addresses)` };
  return { refused: true, why: 'refused by sigward (denied by its policy)' };
}

function lastLines(s: string): string {
  return clip(s.trim().split('\n').slice(-3).join(' | '), 600);
}

async function pullWith(client: CanaryClient, s: CanarySetup): Promise<CanaryResult> {
  const skip = (detail: string): CanaryResult => ({ client, outcome: 'skipped', command: [], detail });
  let command: string[];
  let env = s.env;
  if (client === 'ctr') {
    if (s.containerd === undefined) return skip('containerd is not configured on this node');
    command = [
      'ctr',
      '--address',
      s.containerd.address,
      '--namespace',
      'sigward-doctor',
      'content',
      'fetch',
      '--hosts-dir',
      s.containerd.certsDir,
      s.image,
    ];
  } else {
    if (s.registriesConf === undefined) return skip('no registries.conf on this node');
    env = { ...s.env, CONTAINERS_REGISTRIES_CONF: s.registriesConf };
    command =
      client === 'skopeo'
        ? ['skopeo', '--registries-conf', s.registriesConf, 'inspect', '--raw', '--no-tags', `docker://${s.image}`]
        : ['podman', 'pull', '--quiet', `docker://${s.image}`];
  }
  const ran = await run(command[0] as string, command.slice(1), env, s.timeoutMs);
  if (ran.code === 'not-installed') return skip(`${command[0]} is not installed`);
  if (ran.code === 'timeout') {
    return { client, outcome: 'failed', command, detail: `no answer within ${s.timeoutMs / 1000}s` };
  }
  if (ran.code === 0) {
    if (client === 'podman') await run('podman', ['rmi', '--force', s.image], env, s.timeoutMs);
    return {
      client,
      outcome: 'pulled',
      command,
      detail: 'the image was pulled: this runtime reaches it without sigward refusing it',
    };
  }
  const judged = judgeFailure(client, ran.output, s.sigward);
  return {
    client,
    outcome: judged.refused ? 'refused' : 'failed',
    command,
    detail: `${judged.why}: ${lastLines(ran.output)}`,
  };
}

export async function pullCanary(s: CanarySetup): Promise<CanaryResult[]> {
  const out: CanaryResult[] = [];
  for (const client of s.clients) out.push(await pullWith(client, s));
  return out;
}
