// Can two patterns match the same name? Used at compile time to refuse two DIFFERENT policies whose patterns are
// equally specific and overlap: such a tie would otherwise be settled by file order, which nobody reading the file can
// predict (and which would make the policy hash depend on the order of the list). Exact for the glob language of
// glob.ts: a product automaton over segments, where each pair of segments must admit a common string (itself a
// product automaton over characters). Returns an example name for the error message.
import type { Pattern, Segment } from './glob.ts';

type Parent = { readonly from: number; readonly emit: string } | null;

function bfs(
  width: number,
  start: number,
  goal: number,
  next: (state: number) => readonly { readonly to: number; readonly emit: string }[],
): string[] | undefined {
  const parent = new Map<number, Parent>([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const s = queue.shift() as number;
    if (s === goal) {
      const out: string[] = [];
      for (let p = parent.get(s); p; p = parent.get(p.from)) out.unshift(p.emit);
      return out;
    }
    for (const { to, emit } of next(s)) {
      if (to >= 0 && to < width && !parent.has(to)) {
        parent.set(to, { from: s, emit });
        queue.push(to);
      }
    }
  }
  return undefined;
}

/** A non-empty string matched by both single-segment globs (`*` within the segment), or undefined. */
export function commonSegment(p: string, q: string): string | undefined {
  const w = q.length + 1;
  const key = (i: number, j: number): number => i * w + j;
  const found = bfs((p.length + 1) * w, 0, key(p.length, q.length), (s) => {
    const i = Math.floor(s / w);
    const j = s % w;
    const pc = p[i];
    const qc = q[j];
    const moves: { to: number; emit: string }[] = [];
    if (pc === '*') moves.push({ to: key(i + 1, j), emit: '' });
    if (qc === '*') moves.push({ to: key(i, j + 1), emit: '' });
    if (pc !== undefined && qc !== undefined) {
      if (pc !== '*' && qc !== '*' && pc === qc) moves.push({ to: key(i + 1, j + 1), emit: pc });
      if (pc === '*' && qc !== '*') moves.push({ to: key(i, j + 1), emit: qc });
      if (pc !== '*' && qc === '*') moves.push({ to: key(i + 1, j), emit: pc });
    }
    return moves;
  });
  if (found === undefined) return undefined;
  const text = found.join('');
  // Empty only when both are all stars; any character then matches both.
  return text === '' ? 'x' : text;
}

function globText(s: Segment): string {
  return s.kind === 'literal' || s.kind === 'glob' ? s.text : '*';
}

/** A name (`<host>/<repository>`) both patterns match, or undefined when they are disjoint. */
export function overlapWitness(a: Pattern, b: Pattern): string | undefined {
  const A = a.segments;
  const B = b.segments;
  const w = B.length + 1;
  const key = (i: number, j: number): number => i * w + j;
  const found = bfs((A.length + 1) * w, 0, key(A.length, B.length), (s) => {
    const i = Math.floor(s / w);
    const j = s % w;
    const x = A[i];
    const y = B[j];
    if (x === undefined || y === undefined) return [];
    const seg = commonSegment(globText(x), globText(y));
    if (seg === undefined) return [];
    // One name segment consumed by both; `**` (one or more segments) may stay to consume more.
    const is = x.kind === 'any' ? [i, i + 1] : [i + 1];
    const js = y.kind === 'any' ? [j, j + 1] : [j + 1];
    return is.flatMap((ni) => js.filter((nj) => ni !== i || nj !== j).map((nj) => ({ to: key(ni, nj), emit: seg })));
  });
  return found?.join('/');
}
