// Is this blob something a runtime could unpack as a filesystem layer? podman (containers/storage) ignores the
// declared layer type: it sniffs compression by magic bytes (gzip, bzip2, xz, zstd) and reads anything else as an
// uncompressed tar, with Go's archive/tar, which accepts a first 512-byte header block whose checksum field matches
// the (signed or unsigned) byte sum of the block. A JSON document can be built to satisfy that (all fields can be
// ASCII), so a signature artifact is only trusted to be inert when it is neither compressed nor a tar. Pure.

const MAGIC: readonly (readonly number[])[] = [
  [0x1f, 0x8b], // gzip
  [0x42, 0x5a, 0x68], // bzip2 "BZh"
  [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], // xz
  [0x28, 0xb5, 0x2f, 0xfd], // zstd frame
];

const BLOCK = 512;
const CHKSUM_AT = 148;
const CHKSUM_LEN = 8;

/** The compression format `bytes` start with, or undefined. */
export function compressionMagic(bytes: Uint8Array): string | undefined {
  const names = ['gzip', 'bzip2', 'xz', 'zstd'];
  for (let i = 0; i < MAGIC.length; i++) {
    const m = MAGIC[i] as readonly number[];
    if (bytes.length >= m.length && m.every((b, j) => bytes[j] === b)) return names[i];
  }
  return undefined;
}

/** Go's archive/tar parseOctal for the checksum field: NULs and spaces trimmed at both ends, then octal digits. */
function octalField(bytes: Uint8Array, at: number, len: number): number | undefined {
  let s = '';
  for (let i = at; i < at + len; i++) s += String.fromCharCode(bytes[i] as number);
  const t = s.replace(/^[ \0]+|[ \0]+$/g, '');
  if (t === '' || !/^[0-7]+$/.test(t)) return undefined;
  return parseInt(t, 8);
}

/** True when the first block is a tar header Go's reader accepts (its checksum matches). */
export function isTarHeader(bytes: Uint8Array): boolean {
  if (bytes.length < BLOCK) return false;
  const want = octalField(bytes, CHKSUM_AT, CHKSUM_LEN);
  if (want === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= CHKSUM_AT && i < CHKSUM_AT + CHKSUM_LEN ? 0x20 : (bytes[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/** A reason `bytes` could be unpacked as a layer, or undefined when they cannot. */
export function archiveKind(bytes: Uint8Array): string | undefined {
  const c = compressionMagic(bytes);
  if (c !== undefined) return `${c}-compressed data`;
  return isTarHeader(bytes) ? 'a tar archive' : undefined;
}
