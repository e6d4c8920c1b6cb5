// The ceiling contender's process: the least a node process can do to relay a blob GET, so that sigward's blob
// figures can be stated against what node relays on this machine in the same run (bench/README.md, "The
// contenders"). Raw sockets only: the client's request head is read up to its blank line and only the path is taken
// from it; one GET goes to the upstream with `Connection: close`; the end of the upstream's response head is found by
// hand. Three ways, by the path's prefix:
//   /v2/…         everything (that head included, verbatim) is copied to the client with backpressure: no HTTP
//                 parser, no hashing, no digest check (the plain ceiling);
//   /sha256/v2/…  the same, and the body's sha256 is computed on this thread as it passes and compared with the
//                 digest in the path before the end goes out (a mismatch cuts the connection): what any node process
//                 that checks a digest can do here (the hashing ceiling);
//   /disk/v2/…    the body goes into a file in the given directory instead (fs write stream, backpressure), and only
//                 once it is written is `200` with an empty body answered. What the first half of an sget cold
//                 download (spool to disk) costs without parser or hashing. The file is kept, as sget's store keeps
//                 its download, until `/disk-clear` removes every kept file (the benchmark asks once the sget rounds
//                 are over): on a VM, growing the page cache can cost far more than writing into pages just freed
//                 (bench/README.md, "sget"), so a relay that removed its file at once would keep writing into pages
//                 its last file had freed, and measure a cheaper write than a store, which keeps its files, can make;
//   /disk-sha256/v2/…  the same, hashing the body on this thread as it is written, and answering `200` only when it
//                 matches the digest in the path (else the connection is cut): the spool half with the one check sget
//                 cannot skip (the hashing ceiling of the spool).
//   /disk-clear   removes the files the two above kept, then answers `200`.
// One request per connection. Started by relay.ts as `node --import tsx relay-server.ts <upstream url> <dir>`; prints
// `relay listening on http://127.0.0.1:PORT`.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

const HEAD_END = Buffer.from('\r\n\r\n');
/** A request head longer than this is not a curl GET: the connection is dropped. */
const MAX_HEAD = 16 * 1024;

const upstream = new URL(process.argv[2] ?? '');
if (upstream.protocol !== 'http:' || upstream.hostname !== '127.0.0.1') {
  process.stderr.write(`relay: upstream ${process.argv[2] ?? '(none)'} is not http://127.0.0.1:PORT\n`);
  process.exit(2);
}
const upPort = Number(upstream.port);
const diskDir = process.argv[3] ?? '';
if (diskDir === '') {
  process.stderr.write('relay: no directory for /disk/ downloads given\n');
  process.exit(2);
}

type Mode = 'plain' | 'sha256' | 'disk' | 'disk-sha256';

/** Copy `from` into `to` as pipe() does (pause on a full buffer, resume on drain), without stream machinery. */
function copy(from: net.Socket, to: net.Socket, first: Buffer): void {
  if (first.length > 0 && !to.write(first)) from.pause();
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

/** The same copy, hashing the body (what follows the head) on the way; the end goes out only when it matches. */
function copyHashed(from: net.Socket, to: net.Socket, head: Buffer, bodyStart: number, digestHex: string): void {
  const hash = createHash('sha256');
  hash.update(head.subarray(bodyStart));
  if (!to.write(head)) from.pause();
  from.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    if (hash.digest('hex') === digestHex) to.end();
    else to.destroy();
  });
}

/** The body into a file (with backpressure), then an empty 200 once it is written; the file is kept (/disk-clear). With
 * `digestHex`, the body is hashed as it passes and the 200 goes out only when it matches. */
function toDisk(from: net.Socket, client: net.Socket, head: Buffer, bodyStart: number, digestHex?: string): void {
  const file = join(diskDir, `relay-${randomBytes(6).toString('hex')}.part`);
  const out = createWriteStream(file, { flags: 'wx', highWaterMark: 1024 * 1024 });
  kept.add(file);
  const hash = digestHex === undefined ? undefined : createHash('sha256');
  const body = head.subarray(bodyStart);
  hash?.update(body);
  if (body.length > 0 && !out.write(body)) from.pause();
  from.on('data', (chunk: Buffer) => {
    hash?.update(chunk);
    if (!out.write(chunk)) from.pause();
  });
  out.on('drain', () => from.resume());
  from.on('end', () => out.end());
  out.on('error', () => client.destroy());
  out.on('close', () => {
    if (hash === undefined || hash.digest('hex') === digestHex)
      client.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    else client.destroy();
  });
}

function relay(client: net.Socket, path: string, mode: Mode): void {
  const up = net.connect(upPort, '127.0.0.1');
  const fail = (): void => {
    up.destroy();
    client.destroy();
  };
  up.on('error', fail);
  client.on('error', fail);
  client.on('close', () => up.destroy());
  up.write(`GET ${path} HTTP/1.1\r\nHost: ${upstream.host}\r\nConnection: close\r\n\r\n`);
  let head: Buffer = Buffer.alloc(0);
  const onHead = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    // Only the end of the head is looked for; it goes to the client as it came, with the body after it.
    const end = head.indexOf(HEAD_END);
    if (end < 0) return;
    up.off('data', onHead);
    if (mode === 'plain') return copy(up, client, head);
    if (!head.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 200')) return fail();
    const digestHex = /sha256:([0-9a-f]{64})/.exec(path)?.[1] ?? '';
    if (mode === 'disk') return toDisk(up, client, head, end + HEAD_END.length);
    if (mode === 'disk-sha256') return toDisk(up, client, head, end + HEAD_END.length, digestHex);
    copyHashed(up, client, head, end + HEAD_END.length, digestHex);
  };
  up.on('data', onHead);
}

/** Files written by /disk/ and /disk-sha256/, kept until /disk-clear. */
const kept = new Set<string>();

/** Remove every kept file, then answer. */
function clearDisk(client: net.Socket): void {
  const files = [...kept];
  kept.clear();
  void Promise.all(files.map((f) => unlink(f).catch(() => undefined))).then(() =>
    client.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
  );
}

const PREFIXES: readonly [string, Mode][] = [
  ['/sha256/', 'sha256'],
  ['/disk/', 'disk'],
  ['/disk-sha256/', 'disk-sha256'],
];

const server = net.createServer((client) => {
  let head: Buffer = Buffer.alloc(0);
  const onRequest = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    if (head.indexOf(HEAD_END) < 0) {
      if (head.length > MAX_HEAD) client.destroy();
      return;
    }
    client.off('data', onRequest);
    // "GET /v2/<repo>/blobs/<digest> HTTP/1.1": the path is the second word of the first line.
    const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
    const path = line.split(' ')[1];
    if (path === undefined || !path.startsWith('/')) {
      client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (path === '/disk-clear') return clearDisk(client);
    const [prefix, mode] = PREFIXES.find(([p]) => path.startsWith(p)) ?? ['/', 'plain'];
    relay(client, path.slice(prefix.length - 1), mode);
  };
  client.on('data', onRequest);
  client.on('error', () => client.destroy());
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as net.AddressInfo;
  process.stdout.write(`relay listening on http://127.0.0.1:${addr.port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  process.exit(0);
});
