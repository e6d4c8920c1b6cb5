// The command-line flag parser: repeatable flags collect every value, one-letter flags stand for long ones, and
// unknown flags or missing values are refused with the usage (behaviour of the existing kinds unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagList, parseFlags } from '../../src/cli/flags.ts';
import { isSigwardError } from '../../src/errors.ts';

const SPEC = { key: 'strings', annotation: 'strings', config: 'string', help: 'boolean' } as const;
const SHORT = { a: 'annotation' };

test('repeatable flags collect every value in order; a string flag keeps the last; = and a separate value both work', () => {
  const f = parseFlags(
    ['--key', 'a.pub', 'IMAGE', '--key=b.pub', '-a', 'env=prod', '--config', 'x', '--config=y', '-a', 'k=v=w'],
    SPEC,
    'usage',
    SHORT,
  );
  assert.deepEqual(flagList(f, 'key'), ['a.pub', 'b.pub']);
  assert.deepEqual(flagList(f, 'annotation'), ['env=prod', 'k=v=w']);
  assert.equal(f.config, 'y');
  assert.deepEqual(f._, ['IMAGE']);
  assert.deepEqual(flagList(f, 'missing'), []);
});

test('one-letter flags are only those mapped; others stay arguments as before', () => {
  assert.deepEqual(parseFlags(['-a', 'x'], SPEC, 'usage')._, ['-a', 'x']);
  assert.deepEqual(parseFlags(['-b', 'x'], SPEC, 'usage', SHORT)._, ['-b', 'x']);
});

test('unknown flags and missing values are refused, naming the flag as typed, with the usage', () => {
  const refused = (argv: string[], message: string): void =>
    assert.throws(
      () => parseFlags(argv, SPEC, 'the usage', SHORT),
      (e: unknown) => isSigwardError(e, 'CONFIG_INVALID') && e.message === `${message}\nthe usage`,
    );
  refused(['--nope'], 'unknown option --nope');
  refused(['--key'], 'option --key needs a value');
  refused(['--key', '--help'], 'option --key needs a value');
  refused(['-a'], 'option -a needs a value');
});
