// Assertions on one signature's verdict (a SignatureCheck), for the verify/ tests: verified by exactly these signers,
// or refused with no signers, exactly this reason and exactly this message.
import assert from 'node:assert/strict';
import type { RejectReason, SignatureCheck } from '../../src/verify/types.ts';

export function verified(r: SignatureCheck, signers: readonly string[]): void {
  assert.equal(r.verified, true, r.message);
  assert.equal(r.reason, undefined);
  assert.deepEqual(r.signers, signers);
}

export function refused(r: SignatureCheck, reason: RejectReason, message: string): void {
  assert.equal(r.verified, false);
  assert.deepEqual(r.signers, []);
  assert.equal(r.reason, reason, r.message);
  assert.equal(r.message, message);
}
