// Resident memory of a process from /proc/<pid>/status (proc(5)): VmRSS now, VmHWM the peak so far. Sampling VmRSS
// every 100 ms shows the shape; VmHWM catches a spike between two samples. Writing "5" to /proc/<pid>/clear_refs
// resets VmHWM (Linux >= 4.0), so the peak can be scoped to one scenario instead of the process's whole life.
import { readFileSync, writeFileSync } from 'node:fs';

/** A `Vm*` field of /proc/<pid>/status in KiB, or undefined when the process is gone. */
export function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Reset the peak (VmHWM) to the current RSS; false when the kernel or permissions do not allow it. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface RssReport {
  /** Largest sampled VmRSS, MiB. */
  readonly peakSampledMiB: number;
  /** VmHWM at the end, MiB: since the last reset (see hwmScoped) or since the process started. */
  readonly hwmMiB: number;
  /** True when VmHWM was reset at the start, so it covers exactly the sampled span. */
  readonly hwmScoped: boolean;
  readonly samples: number;
  readonly startMiB: number;
}

export interface RssSampler {
  stop(): RssReport;
}

const mib = (kib: number | undefined): number => Math.round(((kib ?? 0) / 1024) * 10) / 10;

/** Sample `pid` every `everyMs` until stop(). */
export function sampleRss(pid: number, everyMs = 100): RssSampler {
  const hwmScoped = resetPeak(pid);
  const start = statusKiB(pid, 'VmRSS') ?? 0;
  let peak = start;
  let samples = 1;
  const timer = setInterval(() => {
    const v = statusKiB(pid, 'VmRSS');
    if (v === undefined) return;
    samples++;
    if (v > peak) peak = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const last = statusKiB(pid, 'VmRSS');
      if (last !== undefined && last > peak) peak = last;
      return {
        peakSampledMiB: mib(peak),
        hwmMiB: mib(statusKiB(pid, 'VmHWM')),
        hwmScoped,
        samples,
        startMiB: mib(start),
      };
    },
  };
}
