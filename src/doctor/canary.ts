// `sigward doctor --pull-canary IMAGE`: pull an image the policy must refuse through each runtime configured on this
// node, with that runtime's own configuration, and pass only when sigward refused it. A pull that succeeds means the
// image reached the node around (or through) the gate; a pull that fails for another reason (registry unreachable,
// a fallback that failed too) proves nothing and does not pass either.
import { spawn } from 'node:child_process';
import { clip } from '../util/clip.ts';

export const CANARY_CLIENTS = ['ctr', 'skopeo', 'podman'] as const;
export type CanaryClient = (typeof CANARY_CLIENTS)[number];

export interface CanarySetup {
  readonly image: string;
  readonly clients: readonly CanaryClient[];
  /** containerd's hosts directory and socket, when containerd is configured here. */
  readonly containerd: { readonly certsDir: string; readonly address: string } | undefined;
  /** The registries.conf podman and skopeo read, when one exists. */
  readonly registriesConf: string | undefined;
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

/** A failed pull: sigward's refusal and nothing else, or why not (a fallback was tried after it, another error). */
function judgeFailure(client: CanaryClient, output: string): { refused: boolean; why: string } {
  if (client === 'ctr') {
    // containerd logs "trying next host" when it moves on from a host that failed or refused; its final error can
    // still be the first host's 403.
    if (/trying next host/.test(output)) {
      return { refused: false, why: 'containerd tried another host besides sigward (a fallback)' };
    }
    return /\b403 Forbidden\b/.test(output)
      ? { refused: true, why: 'refused by sigward (403)' }
      : { refused: false, why: 'failed, but not with a refusal by sigward' };
  }
  // containers/image: `reading manifest … in HOST/…: denied: <sigward's message>`; a refusal by a mirror followed
  // by the primary location reads "(Mirrors also failed: [...denied...]): <primary's error>".
  if (/Mirrors also failed/.test(output)) {
    return { refused: false, why: 'sigward was a mirror and the registry was tried after it (a fallback)' };
  }
  return /\bdenied: /.test(output)
    ? { refused: true, why: 'refused by sigward (denied)' }
    : { refused: false, why: 'failed, but not with a refusal by sigward' };
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
  const judged = judgeFailure(client, ran.output);
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
