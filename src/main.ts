// Process entry: argv -> command. The only place that calls process.exit, apart from serve on a second stop signal.
import { isSigwardError } from './errors.ts';
import { processIo, type Io } from './cli/io.ts';

const USAGE = `sigward — a signature-enforcing OCI registry proxy

usage: sigward <command> [options]

commands:
  serve --config FILE [--listen HOST:PORT]   run the proxy
  reload [--config FILE] [--url URL]         make the running daemon load its config again (SIGHUP) and report
  check-config FILE                          validate a configuration and report every problem
  client-config RUNTIME --upstream HOST      the containerd, podman or docker config that pulls HOST through sigward
  doctor [--config FILE] [--pull-canary IMG] check this node's runtimes cannot pull around sigward
  generate-key-pair [options]                write an encrypted cosign.key and its cosign.pub (ECDSA P-256)
  public-key --key FILE                      print the public key of a cosign.key (or check a .pub)
  version                                    print sigward's version (also: sigward --version)
  verify --config FILE IMAGE                 the daemon's verdict on an image, and why (also: --registry-url, --key)
  verify-bundle --bundle FILE [ARTIFACT]     verify a Sigstore bundle offline (cosign verify-blob --bundle)
  triangulate [--type TYPE] IMAGE            where an image's signatures live (cosign triangulate)
  sign --key FILE IMAGE                      sign an image with a cosign key and push the signature (cosign's layout)
  save --dir DIR IMAGE                       write an image, its signatures and referrers to an OCI layout (air gap)
  load --dir DIR REGISTRY/REPOSITORY         push a saved layout into a registry, tags and signatures included
  audit verify FILE [FILE...]                check the hash chain of decision log files (oldest first)
  help                                       this text

Run \`sigward <command> --help\` for a command's options.`;

type Command = (argv: readonly string[], io: Io) => Promise<number>;
// Loaded on demand: `check-config` does not pay for the server's imports.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/serve.ts')).serveCommand,
  reload: async () => (await import('./cli/reload.ts')).reloadCommand,
  'check-config': async () => (await import('./cli/check-config.ts')).checkConfigCommand,
  'client-config': async () => (await import('./cli/client-config.ts')).clientConfigCommand,
  doctor: async () => (await import('./cli/doctor.ts')).doctorCommand,
  verify: async () => (await import('./cli/verify.ts')).verifyCommand,
  'verify-bundle': async () => (await import('./cli/verify-bundle.ts')).verifyBundleCommand,
  triangulate: async () => (await import('./cli/triangulate.ts')).triangulateCommand,
  'generate-key-pair': async () => (await import('./cli/keys.ts')).generateKeyPairCommand,
  'public-key': async () => (await import('./cli/keys.ts')).publicKeyCommand,
  version: async () => (await import('./cli/version.ts')).versionCommand,
  '--version': async () => (await import('./cli/version.ts')).versionCommand,
  sign: async () => (await import('./cli/sign.ts')).signCommand,
  save: async () => (await import('./cli/save.ts')).saveCommand,
  load: async () => (await import('./cli/load.ts')).loadCommand,
  audit: async () => (await import('./cli/audit.ts')).auditCommand,
};

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`sigward: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (
      await load()
    )(rest, io);
  } catch (e) {
    if (isSigwardError(e)) {
      io.err(`sigward ${name}: ${e.message}`);
      return 1;
    }
    io.err(`sigward ${name}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 70;
  }
}

const isEntry = process.argv[1] !== undefined && /(?:^|[\\/])(main\.[jt]s|sigward\.mjs|sigward)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`sigward: ${String(e)}\n`);
      process.exit(70);
    },
  );
}
