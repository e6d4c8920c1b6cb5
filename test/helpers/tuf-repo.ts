// A real TUF repository for tests, built with tuf-js's own metadata models (@tufjs/models) and node:crypto keys, and
// served by a plain node http server on 127.0.0.1 (a random port; nothing intercepts requests):
//
//   const repo = await startTufRepo({ 'trusted_root.json': ss.trustedRootJson })
//   repo.url / repo.rootJson      // the mirror URL; the initial root.json to pin (version 1)
//   repo.publish(targets)         // new targets, snapshot and timestamp versions, signed by the role keys
//   repo.publishTampered(how, targets)   // the same, with one thing wrong: 'bad-signature' (the timestamp signed by
//                                 // a key that is not the timestamp key), 'expired' (a timestamp past its expiry),
//                                 // 'target-mismatch' (the served target differs from what targets.json signed)
//   repo.down = true              // every connection is cut before an answer (an unreachable repository)
//   repo.requests                 // every path asked for, in order
//
// consistent_snapshot is on, as in Sigstore's repository: `N.snapshot.json`, `N.targets.json`, and targets under
// `targets/<sha256>.<name>`. One ECDSA P-256 key per role (scheme ecdsa-sha2-nistp256, as Sigstore's online keys).
import { createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Key, Metadata, MetaFile, Root, Signature, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';

type Role = 'root' | 'timestamp' | 'snapshot' | 'targets';
const ROLES: readonly Role[] = ['root', 'timestamp', 'snapshot', 'targets'];
const DAY = 86_400_000;

interface RoleKey {
  readonly key: Key;
  readonly privateKey: KeyObject;
}

export type Tampering = 'bad-signature' | 'expired' | 'target-mismatch';

export interface TufRepo {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 1.root.json, to pin as `rootFile`. */
  readonly rootJson: string;
  readonly requests: readonly string[];
  /** Cut every connection (true) or answer again (false). */
  down: boolean;
  publish(targets: Readonly<Record<string, string>>): void;
  publishTampered(how: Tampering, targets: Readonly<Record<string, string>>): void;
  close(): Promise<void>;
}

function newKey(): RoleKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const keyID = createHash('sha256').update(pem).digest('hex');
  return {
    key: new Key({ keyID, keyType: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyVal: { public: pem } }),
    privateKey,
  };
}

/** A signer for Metadata.sign: ECDSA over the canonical bytes tuf-js hands it, under `keyID`. */
function signer(privateKey: KeyObject, keyID: string): (data: Buffer) => Signature {
  return (data) => new Signature({ keyID, sig: cryptoSign('sha256', data, privateKey).toString('hex') });
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const bytesOf = (m: Metadata<Root | Timestamp | Snapshot | Targets>): Buffer =>
  Buffer.from(JSON.stringify(m.toJSON(), null, 2));

export async function startTufRepo(initial: Readonly<Record<string, string>>): Promise<TufRepo> {
  const keys = Object.fromEntries(ROLES.map((r) => [r, newKey()])) as Record<Role, RoleKey>;
  const expires = (ms: number): string => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const root = new Metadata(
    new Root({ version: 1, specVersion: '1.0.31', expires: expires(365 * DAY), consistentSnapshot: true }),
  );
  for (const r of ROLES) root.signed.addKey(keys[r].key, r);
  root.sign(signer(keys.root.privateKey, keys.root.key.keyID));
  const rootBytes = bytesOf(root);

  const files = new Map<string, Buffer>([['/1.root.json', rootBytes]]);
  const requests: string[] = [];
  let version = 0;

  function release(targetFiles: Readonly<Record<string, string>>, how?: Tampering): void {
    version += 1;
    const targets = new Metadata(new Targets({ version, specVersion: '1.0.31', expires: expires(30 * DAY) }));
    for (const [name, text] of Object.entries(targetFiles)) {
      const bytes = Buffer.from(text);
      const digest = sha256(bytes);
      targets.signed.addTarget(new TargetFile({ path: name, length: bytes.length, hashes: { sha256: digest } }));
      // A mismatching target keeps the signed length, with other bytes.
      const served = how === 'target-mismatch' ? Buffer.from(bytes.toString().replace(/.$/s, ' ')) : bytes;
      files.set(`/targets/${digest}.${name}`, served);
    }
    put(`/${version}.targets.json`, targets, 'targets');
    const snapshot = new Metadata(
      new Snapshot({
        version,
        specVersion: '1.0.31',
        expires: expires(7 * DAY),
        meta: { 'targets.json': new MetaFile({ version }) },
      }),
    );
    const snapshotBytes = put(`/${version}.snapshot.json`, snapshot, 'snapshot');
    const timestamp = new Metadata(
      new Timestamp({
        version,
        specVersion: '1.0.31',
        expires: how === 'expired' ? expires(-DAY) : expires(DAY),
        snapshotMeta: new MetaFile({
          version,
          length: snapshotBytes.length,
          hashes: { sha256: sha256(snapshotBytes) },
        }),
      }),
    );
    // A rogue key signing under the timestamp key's id: the signature does not verify.
    put('/timestamp.json', timestamp, 'timestamp', how === 'bad-signature' ? newKey().privateKey : undefined);
  }

  /** Sign `m` as `role` (or with another key under that role's key id) and serve it at `path`. */
  function put(path: string, m: Metadata<Timestamp | Snapshot | Targets>, role: Role, key?: KeyObject): Buffer {
    m.sign(signer(key ?? keys[role].privateKey, keys[role].key.keyID));
    const bytes = bytesOf(m);
    files.set(path, bytes);
    return bytes;
  }

  release(initial);
  const repo = {
    url: '',
    rootJson: rootBytes.toString(),
    requests,
    down: false,
    publish: (t: Readonly<Record<string, string>>) => release(t),
    publishTampered: (how: Tampering, t: Readonly<Record<string, string>>) => release(t, how),
    close: async () => {},
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://tuf.invalid').pathname;
    requests.push(path);
    if (repo.down) {
      req.socket.destroy();
      return;
    }
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  repo.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  repo.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return repo;
}
