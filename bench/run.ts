// `npm run bench`: sigward against distribution direct (the ceiling) and distribution's pull-through cache (the
// peer), in one run, contenders alternating in short rounds, medians reported as ratios. BENCH_QUICK=1 for a smoke
// run. Everything it starts is stopped and every temp file removed at the end, on error, and on Ctrl-C (the
// process helpers' safety net kills children and removes temp dirs at exit). See bench/README.md.
import { pushKeylessFixtures, type KeylessFixtures } from './keyless-fixtures.ts';
import { keylessScenario } from './scenarios/keyless.ts';
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { pushFixtures, type Fixtures } from './fixtures.ts';
import { evaluateTargets, formatTable, writeResult } from './report.ts';
import type { Row } from './rows.ts';
import { statusKiB } from './rss.ts';
import { sweepStaleTempDirs } from '../test/helpers/proc.ts';
import { blobScenario } from './scenarios/blob.ts';
import { blobCacheScenario, blobRedirectScenario } from './scenarios/blob-paths.ts';
import { cliScenario } from './scenarios/cli.ts';
import { concurrentScenario } from './scenarios/concurrent.ts';
import { hostileSigScenario } from './scenarios/hostile-sig.ts';
import { manifestLoad, manifestScenario } from './scenarios/manifests.ts';
import { sgetScenario } from './scenarios/sget.ts';
import { signedColdScenario } from './scenarios/signed-cold.ts';
import { signedHerdScenario } from './scenarios/signed-herd.ts';
import { verifyMicroScenario } from './scenarios/verify-micro.ts';
import { machineFacts, progress, readSettings } from './settings.ts';
import { pushSignedFixtures, type SignedFixtures } from './signed-fixtures.ts';
import { Starter, startStack, type Stack } from './stack.ts';

function requireTools(): void {
  const missing = ['wrk', 'curl', 'docker-registry'].filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0,
  );
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')} on PATH; install with: apt-get install ${missing.join(' ')}`);
  }
}

const mibOf = (pid: number): number => Math.round(((statusKiB(pid, 'VmRSS') ?? 0) / 1024) * 10) / 10;

async function main(): Promise<void> {
  // Registered before the process helpers' own handler, so this line prints before they clean up and exit 130.
  process.once('SIGINT', () => progress('interrupted: stopping the registries and sigward, removing temp files'));
  const settings = readSettings();
  requireTools();
  // A run killed outright (SIGKILL) leaves its registries' directories behind, and the disk check below would see
  // tens of GiB fewer free than there are (fixtures.ts chooses distinct blobs by it).
  const swept = sweepStaleTempDirs();
  if (swept.length > 0)
    progress(`removed ${swept.length} temp dir(s) left by runs that were killed: ${swept.join(', ')}`);
  const startedAt = new Date().toISOString();
  const machine = machineFacts();
  progress(
    `sigward benchmark, ${settings.quick ? 'QUICK (BENCH_QUICK=1: small sizes, short rounds)' : 'full'} run; ` +
      `node ${machine.node}, ${machine.nproc} cpus, ${machine.memAvailableMiB ?? machine.memFreeMiB} MiB available`,
  );
  progress(
    `${settings.rounds} alternating rounds of ${settings.wrkSeconds} s per manifest figure, ${settings.blobMiB} MiB blobs, ` +
      `${settings.concurrency} concurrent GETs x ${settings.bigRounds} rounds, ${settings.coldRounds} cold signed pulls per variant, ` +
      `${settings.herd} simultaneous GETs per coalescing burst, ${settings.delayMs} ms forwarder delay`,
  );

  const notes: string[] = [
    'access logs off: distribution accesslog disabled at log level error; sigward at log level warn (no access lines)',
    'wrk, curl, the registries and sigward share the same cores: compare ratios of one run, not absolute figures across runs',
    "sigward is asked in containerd's shape: /v2/<repo>/...?ns=<upstream host>",
    'sigward policy: one explicit `allow: unsigned` rule for <upstream>/bench/** (proxy path + policy lookup, no signature verification); ' +
      '<host>/bench/signed/* requires a signature by the trusted key `bench` (signature gate scenarios)',
    "cold signed pulls, request counts and the coalescing bursts go through a counting forwarder (sigward's second upstream); every load figure goes to the upstream directly",
    'MB = 10^6 bytes; ratios are sigward / other of the raw figures (for latency and memory, lower is better)',
  ];
  const extra: Record<string, unknown> = {};
  const rows: Row[] = [];
  const failed: string[] = [];
  const starter = new Starter();
  try {
    const stack: Stack = await startStack(starter, settings);
    // Fixtures are pushed when the first scenario needing them runs (BENCH_ONLY may select none that do).
    let fxPushed: Promise<Fixtures> | undefined;
    const fixtures = (): Promise<Fixtures> =>
      (fxPushed ??= pushFixtures(stack.upstream, settings, stack.tmp).then((fx) => {
        notes.push(`concurrent scenario: ${fx.blobsNote}`);
        extra.fixtures = fx;
        return fx;
      }));
    let sfxPushed: Promise<SignedFixtures> | undefined;
    const signedFixtures = (): Promise<SignedFixtures> =>
      (sfxPushed ??= pushSignedFixtures(stack.upstream, stack.key, settings));
    let kfxPushed: Promise<KeylessFixtures> | undefined;
    const keylessFixtures = (): Promise<KeylessFixtures> =>
      (kfxPushed ??= pushKeylessFixtures(stack.upstream, stack.sigstore, settings));
    if (settings.only === undefined) {
      await fixtures();
      await signedFixtures();
      await keylessFixtures();
    }
    extra.sigwardRssIdleMiB = mibOf(stack.sigward.pid);
    // The micro-benchmark runs in this process while the daemons idle; the signature-gate and sget scenarios come
    // after the original three, so those run in the same conditions as in earlier runs.
    const scenarios: [string, (s: Stack) => Promise<Row[]>][] = [
      ['legacy signature checks', () => Promise.resolve(verifyMicroScenario(settings))],
      ['manifests', async (s) => manifestScenario(s, await fixtures(), settings)],
      ['single blob', async (s) => blobScenario(s, await fixtures(), settings)],
      [
        'concurrent blobs',
        async (s) => {
          const res = await concurrentScenario(s, await fixtures(), settings);
          extra.concurrentRss = res.rss;
          return res.rows;
        },
      ],
      [
        'signed manifests',
        async (s) =>
          manifestLoad(s, { ...(await signedFixtures()).warm, id: 'signed', label: 'signed manifest' }, settings),
      ],
      [
        'cold signed pulls',
        async (s) => {
          const res = await signedColdScenario(s, await signedFixtures(), settings);
          extra.signedCold = res.extra;
          return res.rows;
        },
      ],
      ['coalescing', async (s) => signedHerdScenario(s, await signedFixtures(), settings)],
      [
        'sget',
        async (s) => {
          const res = await sgetScenario(s, await fixtures(), settings);
          extra.sgetRss = res.rss;
          extra.sgetColdOverV2 = res.coldOverV2;
          return res.rows;
        },
      ],
      ['blob redirect', async (s) => blobRedirectScenario(s, await fixtures(), settings)],
      ['blob cache', async (s) => blobCacheScenario(s, await fixtures(), settings)],
      ['hostile .sig', (s) => hostileSigScenario(s, settings)],
      ['keyless', async (s) => keylessScenario(s, await keylessFixtures(), await signedFixtures(), settings)],
      ['cli', async (s) => cliScenario(s, await signedFixtures(), settings)],
    ];
    const selected = scenarios.filter(
      ([name]) => settings.only === undefined || settings.only.some((w) => name.toLowerCase().includes(w)),
    );
    if (selected.length === 0)
      throw new Error(
        `BENCH_ONLY=${process.env.BENCH_ONLY ?? ''} selects no scenario; names: ${scenarios.map(([n]) => n).join(', ')}`,
      );
    const rssAfter: Record<string, number> = {};
    extra.sigwardRssAfterMiB = rssAfter;
    for (const [name, run] of selected) {
      progress(`scenario: ${name} (sigward RSS now ${mibOf(stack.sigward.pid)} MiB)`);
      try {
        rows.push(...(await run(stack)));
      } catch (err) {
        // One broken scenario (say, a daemon route not written yet) should not hide the figures of the others.
        const msg = `scenario "${name}" failed: ${(err as Error).message}`;
        progress(msg);
        notes.push(msg);
        failed.push(name);
        if (statusKiB(stack.sigward.pid, 'VmRSS') === undefined)
          throw new Error(`sigward exited; log ${stack.sigward.logFile}`, { cause: err });
      }
      rssAfter[name] = mibOf(stack.sigward.pid);
    }
    extra.sigwardRssEndMiB = mibOf(stack.sigward.pid);
    // Other work on the machine (tests, builds) shows up here and skews absolute figures more than ratios.
    extra.loadavgEnd = loadavg().map((l) => Math.round(l * 100) / 100);
  } finally {
    progress('stopping sigward, the peer and the upstream; removing temp files');
    await starter.stopAll();
  }

  const targets = evaluateTargets(rows, settings);
  const finishedAt = new Date().toISOString();
  const file = writeResult({ startedAt, finishedAt, settings, machine, notes, rows, targets, extra });
  process.stdout.write(`\n${formatTable(rows, targets)}\n\n`);
  for (const n of notes) process.stdout.write(`- ${n}\n`);
  const pass = targets.filter((t) => t.pass === true).length;
  const miss = targets.filter((t) => t.pass === false).length;
  const na = targets.length - pass - miss;
  process.stdout.write(`\ntargets: ${pass} PASS, ${miss} MISS${na ? `, ${na} not measured` : ''}\nresults: ${file}\n`);
  // Missed targets are figures, not failures; a scenario that could not run is a failure of the run.
  if (failed.length > 0) {
    process.stderr.write(`bench: ${failed.length} scenario(s) failed: ${failed.join(', ')} (see the notes above)\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
