// The one place that shows a policy decision as headers (http/answer.ts) and the error mapping's extra headers
// (a 416's Content-Range): pure parts, checked as tables.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decisionHeaders } from '../../src/http/answer.ts';
import { errorResponse } from '../../src/http/respond.ts';
import { SigwardError } from '../../src/errors.ts';
import { RefusalWithHeaders } from '../../src/proxy/answer.ts';
import type { Decision } from '../../src/policy/types.ts';

function decision(over: Partial<Decision>): Decision {
  return {
    allow: true,
    wouldDeny: false,
    mode: 'enforce',
    outcome: 'verified',
    policyName: 'acme',
    matchedPattern: 'r.test/acme/**',
    signers: [],
    coversChildren: false,
    summary: 'verified',
    message: 'allowed',
    perSignature: [],
    ...over,
  };
}

describe('decision headers', () => {
  test('a pull allowed outright shows nothing; warn mode shows the Warning whether named or not', () => {
    assert.equal(decisionHeaders({ decision: decision({}), named: false }), undefined);
    const warned = decision({
      wouldDeny: true,
      mode: 'warn',
      outcome: 'no-valid-signature',
      summary: 'no valid "signature" \\ here',
    });
    assert.deepEqual(decisionHeaders({ decision: warned, named: false }), {
      Warning: `299 sigward "no valid 'signature' ' here"`,
      'X-Sigward-Would-Deny': 'no-valid-signature',
    });
    assert.deepEqual(decisionHeaders({ decision: warned, named: true }), {
      'X-Sigward-Policy': 'acme',
      'X-Sigward-Outcome': 'no-valid-signature',
      Warning: `299 sigward "no valid 'signature' ' here"`,
      'X-Sigward-Would-Deny': 'no-valid-signature',
    });
  });

  test('named (sget): policy, outcome and signers, printable ASCII only', () => {
    assert.deepEqual(
      decisionHeaders({
        decision: decision({ policyName: 'prod\u00e9', signers: ['alice', 'b\u00f6b'] }),
        named: true,
      }),
      {
        'X-Sigward-Policy': 'prod?',
        'X-Sigward-Outcome': 'verified',
        'X-Sigward-Signers': 'alice, b?b',
      },
    );
    assert.deepEqual(decisionHeaders({ decision: decision({}), named: true }), {
      'X-Sigward-Policy': 'acme',
      'X-Sigward-Outcome': 'verified',
    });
  });
});

describe('error answers', () => {
  test('a refusal with headers carries them next to the OCI error; a plain one does not', () => {
    const range = errorResponse(
      new RefusalWithHeaders(
        'RANGE_INVALID',
        'outside',
        { 'Content-Range': 'bytes */10' },
        { reason: 'range not satisfiable' },
      ),
    );
    assert.equal(range.status, 416);
    assert.equal(range.reason, 'Range Not Satisfiable (range not satisfiable)');
    assert.equal(range.headers['Content-Range'], 'bytes */10');
    assert.equal(range.headers['Docker-Distribution-API-Version'], 'registry/2.0');
    assert.deepEqual(range.body, { errors: [{ code: 'RANGE_INVALID', message: 'outside' }] });
    assert.equal(errorResponse(new SigwardError('RANGE_INVALID', 'outside')).headers['Content-Range'], undefined);
  });
});
