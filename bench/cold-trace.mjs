// A timeline of sigward's requests, for finding where a cold signed pull spends its time without touching the code:
// loaded into the sigward process with BENCH_SIGWARD_NODE_ARGS="--import ./bench/cold-trace.mjs" (plain JavaScript,
// so the daemon still runs without tsx's loader). It listens on node's and undici's diagnostics channels: a client
// request arriving and its answer finished (http.server.*), and each upstream request created, its head written, its
// response head and its end (undici:*). The gaps between them are sigward's own work. The events are written as JSON
// to $BENCH_TRACE_FILE (default /tmp/sigward-trace-<pid>.json) when the process stops; cold-trace-report.ts sums them.
import dc from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** [ms since start, event, id of the request it belongs to, url or status] */
const events = [];
const ids = new WeakMap();
let next = 1;
const idOf = (o) => {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = next++));
  return id;
};
const on = (channel, fn) => dc.subscribe(channel, (msg) => fn(msg));

on('http.server.request.start', ({ request, response }) => events.push([performance.now(), 'in', idOf(response), request.url]));
on('http.server.response.finish', ({ response }) => events.push([performance.now(), 'out', idOf(response), response.statusCode]));
on('undici:request:create', ({ request }) => events.push([performance.now(), 'up', idOf(request), request.path]));
on('undici:client:sendHeaders', ({ request }) => events.push([performance.now(), 'sent', idOf(request)]));
on('undici:request:headers', ({ request, response }) => events.push([performance.now(), 'hdr', idOf(request), response.statusCode]));
on('undici:request:trailers', ({ request }) => events.push([performance.now(), 'end', idOf(request)]));

const file = process.env.BENCH_TRACE_FILE ?? `/tmp/sigward-trace-${process.pid}.json`;
let written = false;
const write = () => {
  if (written) return;
  written = true;
  writeFileSync(file, JSON.stringify(events));
};
// sigward stops on SIGTERM by closing its server, and may be killed before its exit handlers run: write first.
process.prependListener('SIGTERM', write);
process.prependListener('SIGINT', write);
process.on('exit', write);
