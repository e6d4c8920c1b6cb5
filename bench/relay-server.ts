// The ceiling contender's process: the least a node process can do to relay a blob GET, so that sigward's blob
// figures can be stated against what node relays on this machine in the same run (bench/README.md, "The
// contenders"). Raw sockets only: the client's request head is read up to its blank line and only the path is taken
// from it; one GET goes to the upstream with `Connection: close`; the end of the upstream's response head is found by
// hand and everything (that head included, verbatim) is copied to the client with backpressure. No HTTP parser, no
// hashing, no digest check, one request per connection. Started by relay.ts as `node --import tsx relay-server.ts
// <upstream url>`; prints `relay listening on http://127.0.0.1:PORT`.
import net from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');
/** A request head longer than this is not a curl GET: the connection is dropped. */
const MAX_HEAD = 16 * 1024;

const upstream = new URL(process.argv[2] ?? '');
if (upstream.protocol !== 'http:' || upstream.hostname !== '127.0.0.1') {
  process.stderr.write(`relay: upstream ${process.argv[2] ?? '(none)'} is not http://127.0.0.1:PORT\n`);
  process.exit(2);
}
const upPort = Number(upstream.port);

/** Copy `from` into `to` as pipe() does (pause on a full buffer, resume on drain), without stream machinery. */
function copy(from: net.Socket, to: net.Socket, first: Buffer): void {
  if (first.length > 0 && !to.write(first)) from.pause();
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

function relay(client: net.Socket, path: string): void {
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
    if (head.indexOf(HEAD_END) < 0) return;
    up.off('data', onHead);
    copy(up, client, head);
  };
  up.on('data', onHead);
}

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
    relay(client, path);
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
