// The one string clipper. Text quoted from upstreams, clients or config goes into error messages, logs and HTTP
// reason phrases; each use needs a bound, and reason phrases and header values also need printable ASCII (a CR/LF
// there would split the response; containerd shows the reason phrase verbatim). Pure: no I/O, no clock.

export interface ClipOptions {
  /** Appended when the text was cut; counted in `max`. Default '…'. */
  marker?: string;
  /** Replace every character outside printable ASCII (0x20-0x7e) with '?' first. Default true. */
  ascii?: boolean;
}

/** `text` at most `max` characters (UTF-16 units) long, the marker included when it had to be cut. */
export function clip(text: string, max = 80, options: ClipOptions = {}): string {
  const { marker = '…', ascii = true } = options;
  const shown = ascii ? text.replace(/[^\x20-\x7e]/g, '?') : text;
  if (shown.length <= max) return shown;
  return `${shown.slice(0, Math.max(0, max - marker.length))}${marker}`;
}
