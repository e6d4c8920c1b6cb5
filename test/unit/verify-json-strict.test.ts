// Strict JSON and the strict simple-signing payload parser: good/bad tables.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSimpleSigning, parseStrictJson } from '../../src/verify/index.ts';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const REAL = readFileSync(new URL('../fixtures/cimage-cosign-key-only/payload.json', import.meta.url));

describe('parseStrictJson', () => {
  const good: [string, unknown][] = [
    ['{}', {}],
    ['[]', []],
    [' {"a":[1,-2.5e3,true,false,null,"x"]} ', { a: [1, -2500, true, false, null, 'x'] }],
    ['"\\u00e9\\n\\"\\\\\\/"', 'é\n"\\/'],
    ['"\\ud83d\\ude00"', '😀'],
    ['{"a":{"a":{"a":1}}}', { a: { a: { a: 1 } } }],
    ['{"a":1,"b":{"a":2}}', { a: 1, b: { a: 2 } }],
    ['0', 0],
  ];
  for (const [text, value] of good) {
    test(`accepts ${text}`, () => {
      const r = parseStrictJson(bytes(text));
      assert.ok(r.ok, r.ok ? '' : r.problem);
      assert.deepEqual(r.value, value);
      assert.deepEqual(r.value, JSON.parse(text));
    });
  }

  const bad: [string, string | Uint8Array, RegExp][] = [
    ['duplicate key at top level', '{"a":1,"a":2}', /duplicate key "a"/],
    ['duplicate key at depth 3', '{"x":{"y":[{"z":1,"q":2,"z":3}]}}', /duplicate key "z"/],
    ['duplicate after unescaping', '{"a":1,"\\u0061":2}', /duplicate key "a"/],
    ['duplicate __proto__', '{"__proto__":1,"__proto__":2}', /duplicate key/],
    ['trailing comma', '{"a":1,}', /expected a string key/],
    ['trailing data', '{} {}', /after the JSON value/],
    ['single quotes', "{'a':1}", /string key/],
    ['leading zero', '01', /after the JSON value/],
    ['bare minus', '-', /unexpected character/],
    ['NaN', 'NaN', /unexpected character/],
    ['raw control char', '"a\u0001b"', /control character/],
    ['bad escape', '"\\x41"', /bad escape/],
    ['lone high surrogate', '"\\ud83d"', /unpaired surrogate/],
    ['lone low surrogate', '"\\ude00"', /unpaired surrogate/],
    ['unterminated', '{"a":"b', /unterminated/],
    ['empty input', '', /end of input/],
    ['BOM', '\ufeff{}', /unexpected character/],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), /UTF-8/],
    ['overlong UTF-8', new Uint8Array([0x22, 0xc0, 0xaf, 0x22]), /UTF-8/],
    ['too deep', '['.repeat(100) + ']'.repeat(100), /nesting deeper/],
  ];
  for (const [name, input, why] of bad) {
    test(`refuses ${name}`, () => {
      const r = parseStrictJson(typeof input === 'string' ? bytes(input) : input);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.problem, why);
    });
  }

  test('a "__proto__" member is an own property, never the prototype', () => {
    const r = parseStrictJson(bytes('{"__proto__":{"polluted":true}}'));
    assert.ok(r.ok);
    const v = r.value as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal((v as { polluted?: unknown }).polluted, undefined);
  });
});

describe('parseSimpleSigning', () => {
  test('the real cosign payload parses', () => {
    const r = parseSimpleSigning(REAL);
    assert.ok(r.ok, r.ok ? '' : r.problem);
    assert.equal(r.value.manifestDigest, 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00');
    assert.equal(r.value.dockerReference, '192.168.64.2:5000/cosign-signed-single-sample');
    assert.deepEqual(r.value.optional, {});
  });

  const real = REAL.toString('utf8');
  const D = 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00';
  const cases: [string, string, RegExp][] = [
    [
      'duplicate docker-manifest-digest',
      real.replace(
        `"docker-manifest-digest":"${D}"`,
        `"docker-manifest-digest":"${D}","docker-manifest-digest":"${D}"`,
      ),
      /duplicate key/,
    ],
    ['duplicate critical', real.replace('{"critical"', `{"critical":{},"critical"`), /duplicate key "critical"/],
    [
      'capitalised Docker-manifest-digest (cosign spec example)',
      real.replace('"docker-manifest-digest"', '"Docker-manifest-digest"'),
      /unknown member critical\.image\."Docker-manifest-digest"/,
    ],
    [
      'wrong critical.type',
      real.replace('cosign container image signature', 'atomic container signature'),
      /critical\.type/,
    ],
    [
      'critical.type missing',
      real.replace(',"type":"cosign container image signature"', ''),
      /critical\.type is missing/,
    ],
    [
      'critical.type a number',
      real.replace('"cosign container image signature"', '1'),
      /critical\.type is a JSON number/,
    ],
    ['unknown member in critical', real.replace('"type":', '"extra":1,"type":'), /critical\."extra"/],
    [
      'unknown member in identity',
      real.replace('{"docker-reference"', '{"x":"y","docker-reference"'),
      /critical\.identity\."x"/,
    ],
    [
      'unknown member in image',
      real.replace('{"docker-manifest-digest"', '{"x":"y","docker-manifest-digest"'),
      /critical\.image\."x"/,
    ],
    [
      'unknown top-level member',
      real.replace('"optional":null', '"optional":null,"Optional":{}'),
      /unknown member "Optional"/,
    ],
    ['digest not a string', real.replace(`"${D}"`, '42'), /docker-manifest-digest is a JSON number/],
    ['digest not a digest', real.replace(`"${D}"`, '"latest"'), /docker-manifest-digest is "latest"/],
    [
      'docker-reference not a string',
      real.replace('"192.168.64.2:5000/cosign-signed-single-sample"', 'null'),
      /docker-reference is a JSON null/,
    ],
    [
      'identity missing',
      real.replace('"identity":{"docker-reference":"192.168.64.2:5000/cosign-signed-single-sample"},', ''),
      /lacks critical\.identity/,
    ],
    ['image an array', real.replace(`{"docker-manifest-digest":"${D}"}`, '[]'), /critical\.image is a JSON array/],
    ['critical missing', '{"optional":null}', /lacks critical/],
    ['optional a string', real.replace('"optional":null', '"optional":"x"'), /optional is a JSON string/],
    ['optional an array', real.replace('"optional":null', '"optional":[]'), /optional is a JSON array/],
    ['top level an array', `[${real}]`, /JSON array, expected an object/],
    ['trailing newline is fine, trailing junk is not', `${real}\nx`, /after the JSON value/],
  ];
  for (const [name, text, why] of cases) {
    test(`refuses: ${name}`, () => {
      assert.notEqual(text, real, 'the mutation must change the payload');
      const r = parseSimpleSigning(bytes(text));
      assert.equal(r.ok, false, name);
      assert.match(r.ok ? '' : r.problem, why);
    });
  }

  test('optional with arbitrary JSON values and trailing whitespace parses', () => {
    const r = parseSimpleSigning(bytes(real.replace('"optional":null', '"optional":{"n":1,"o":{"x":[true]}}') + '\n'));
    assert.ok(r.ok, r.ok ? '' : r.problem);
    assert.deepEqual(r.value.optional, { n: 1, o: { x: [true] } });
  });
});
