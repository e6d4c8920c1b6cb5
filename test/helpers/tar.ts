// A deterministic POSIX ustar writer (IEEE Std 1003.1 "pax" chapter, ustar interchange format) for test layers:
// names sorted, mtime 0, uid/gid 0, fixed modes, so the same files always give the same bytes and digests
// (the equivalent of `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner`).

const BLOCK = 512;

/** One octal numeric field: zero-padded digits then NUL, as ustar requires. */
function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit a ${width}-byte field`);
  return digits.padStart(width - 1, '0') + '\0';
}

/** Split a long path into ustar's prefix (155 bytes) + name (100 bytes) at a '/'. */
function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { name, prefix };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

/** The 512-byte header of one entry: type '0' (file) or '5' (directory). */
export function tarHeader(path: string, size: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { name, prefix } = splitName(path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(type === '5' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: the epoch, for reproducible digests
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii'); // uname
  h.write('root', 297, 'ascii'); // gname
  h.write(prefix, 345, 155, 'utf8');
  // Checksum: byte sum of the header with the checksum field read as 8 spaces; stored as 6 octal digits, NUL, space.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** Zero bytes that pad `size` up to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);

function checkPath(path: string): void {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`tar: bad path '${path}': use relative paths like 'etc/hello.txt'`);
  }
}

/** A whole tar archive of `files` (path -> content), with entries for the parent directories, sorted by name. */
export function makeTar(files: Record<string, string | Uint8Array>): Buffer {
  const entries = new Map<string, Buffer | undefined>();
  for (const [path, content] of Object.entries(files)) {
    checkPath(path);
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) entries.set(`${parts.slice(0, i).join('/')}/`, undefined);
    entries.set(path, Buffer.from(content));
  }
  const out: Buffer[] = [];
  for (const name of [...entries.keys()].sort()) {
    const data = entries.get(name);
    if (data === undefined) {
      out.push(tarHeader(name, 0, '5'));
    } else {
      out.push(tarHeader(name, data.length, '0'), data, tarPadding(data.length));
    }
  }
  out.push(TAR_END);
  return Buffer.concat(out);
}
