// docker: daemon.json's `registry-mirrors` applies to Docker Hub only and docker falls back to Docker Hub when a
// mirror refuses (moby's continueOnError), so no daemon.json setting makes docker enforce anything. Every other
// registry is pulled directly. What can enforce is outside daemon.json: images addressed through sigward's own name
// and no direct network access to registries, which doctor cannot see (a warning says so).
import type { UpstreamConfig } from '../config/types.ts';
import { readJson } from './files.ts';
import { isHub, isSigward, reachableNames, type Finding, type Fixes, type SigwardAddress } from './types.ts';

export interface DockerReport {
  readonly found: boolean;
  readonly findings: Finding[];
}

export function checkDocker(
  file: string,
  upstreams: readonly UpstreamConfig[],
  sw: SigwardAddress,
  fixes: Fixes,
): DockerReport {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'runtime'>): void => void findings.push({ runtime: 'docker', ...f });
  const read = readJson(file);
  if (read.kind === 'absent') return { found: false, findings };
  if (
    read.kind === 'unreadable' ||
    typeof read.value !== 'object' ||
    read.value === null ||
    Array.isArray(read.value)
  ) {
    add({
      registry: undefined,
      status: 'bypass',
      file,
      message: `cannot be read (${read.kind === 'unreadable' ? read.reason : 'not a JSON object'}): where docker pulls from is unknown`,
      fix: 'make it a valid JSON object (dockerd refuses to start on a broken one)',
    });
    return { found: true, findings };
  }
  const conf = read.value as Record<string, unknown>;
  const raw = conf['registry-mirrors'];
  const mirrors = Array.isArray(raw) ? raw.filter((m): m is string => typeof m === 'string') : [];
  for (const u of upstreams) {
    for (const name of reachableNames(u)) {
      if (isHub(u) && mirrors.length > 0) {
        const sigwardMirror = mirrors.some((m) => isSigward(sw, m));
        add({
          registry: name,
          status: 'bypass',
          file,
          message: sigwardMirror
            ? 'registry-mirrors names sigward, but docker falls back to Docker Hub (registry-1.docker.io) when the mirror refuses or fails: a refused image is pulled from Docker Hub unchecked'
            : `registry-mirrors (${mirrors.join(', ')}) does not name sigward: Docker Hub images come from there unchecked, or from Docker Hub itself`,
          fix: fixes.docker(name),
        });
        continue;
      }
      add({
        registry: name,
        status: 'warning',
        file,
        message: `docker pulls ${name} directly: no daemon.json setting routes it through sigward; only images addressed by sigward's name and no direct access from this node to ${name} enforce the policy (doctor cannot see the network)`,
        fix: fixes.docker(name),
      });
    }
  }
  return { found: true, findings };
}
