// What an upstream's caFile must hold: at least one PEM certificate. Checked where the file is read (config/load.ts,
// so check-config names the YAML line) and where the bundle is handed to TLS (upstream/dispatcher.ts, which may be
// given PEM text that never went through the loader).

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';

/** Why `text` cannot be a CA bundle, or undefined when it can. */
export function caPemProblem(text: string): string | undefined {
  return text.includes(PEM_CERTIFICATE) ? undefined : `holds no PEM certificate (expected ${PEM_CERTIFICATE})`;
}
