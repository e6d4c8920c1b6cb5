// The connect-time half of the upstream trust boundary (boundary.ts): a connector that refuses to open a connection
// to a non-public address. The address is checked where the socket is made, on what the name resolved to for THIS
// connection, so a name that resolves to a public address when it is looked at and to 127.0.0.1 when it is used
// (DNS rebinding) is still refused. Node skips the lookup for an IP literal, so literals are checked before it.
// A host name resolving to several addresses is refused if any of them is not public: a mixed answer is how a
// rebinding attack would look, and a CDN has no reason to give one.
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { buildConnector } from 'undici';
import { isIpLiteral, type AddressClassifier } from './addresses.ts';

/** A connection sigward refused to open. Upstream code turns it into an UPSTREAM_INVALID naming the upstream. */
export class NonPublicAddressError extends Error {
  readonly code = 'ESIGWARD_NONPUBLIC_ADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly why: string,
  ) {
    super(host === address ? `${address} is a ${why} address` : `${host} resolves to ${address}, a ${why} address`);
    this.name = 'NonPublicAddressError';
  }
}

/** A lookup that fails with NonPublicAddressError when any address `base` found is not public. */
export function checkedLookup(base: LookupFunction, classify: AddressClassifier): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (err, address, family) => {
      if (err) {
        callback(err, address, family);
        return;
      }
      const all: readonly (string | LookupAddress)[] = Array.isArray(address) ? address : [address];
      for (const a of all) {
        const ip = typeof a === 'string' ? a : a.address;
        const why = classify(ip);
        if (why !== undefined) {
          callback(new NonPublicAddressError(hostname, ip, why), '', 0);
          return;
        }
      }
      callback(null, address, family);
    });
  };
}

/**
 * Wrap a connector built with `checkedLookup` (so resolved names are checked): IP literals, which node connects to
 * without a lookup, are checked here first.
 */
export function guardLiterals(
  connector: buildConnector.connector,
  classify: AddressClassifier,
): buildConnector.connector {
  return (options, callback) => {
    const host = options.hostname;
    if (isIpLiteral(host)) {
      const why = classify(host.replace(/^\[|\]$/g, ''));
      if (why !== undefined) {
        const err = new NonPublicAddressError(host, host, why);
        // undici expects the callback asynchronously, as a real connect would call it.
        queueMicrotask(() => callback(err, null));
        return;
      }
    }
    connector(options, callback);
  };
}
