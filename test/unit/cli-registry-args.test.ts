// What the registry commands read from the command line and the environment: image references as docker and cosign
// read them (host or Docker Hub, library/, :latest, digest over tag), the docker-reference cosign signs, the
// `--tlog-upload` and `-a` flags, and registry credentials from docker's config.json (found, absent, unusable).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerReference, parseImageArg, parseRepositoryArg } from '../../src/cli/image-arg.ts';
import { annotationPairs } from '../../src/cli/flags.ts';
import { takeTlogUpload } from '../../src/cli/sign.ts';
import { dockerCredentials } from '../../src/registry-write/docker-config.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const D = `sha256:${'ab'.repeat(32)}`;

describe('image references', () => {
  test('good ones', () => {
    const cases: [string, string, string, string][] = [
      ['127.0.0.1:5000/team/app:v1', '127.0.0.1:5000', 'team/app', 'v1'],
      [`127.0.0.1:5000/team/app@${D}`, '127.0.0.1:5000', 'team/app', D],
      [`localhost/app:v1@${D}`, 'localhost', 'app', D],
      ['ghcr.io/acme/app', 'ghcr.io', 'acme/app', 'latest'],
      ['busybox', 'docker.io', 'library/busybox', 'latest'],
      ['acme/app:1.0', 'docker.io', 'acme/app', '1.0'],
      ['docker.io/busybox:1', 'docker.io', 'library/busybox', '1'],
      ['Registry.Example:443/x/y:Tag_1', 'registry.example:443', 'x/y', 'Tag_1'],
    ];
    for (const [text, host, repository, ref] of cases) {
      const a = parseImageArg(text);
      assert.deepEqual(
        [a.host, a.repository, a.ref.kind === 'tag' ? a.ref.tag : a.ref.digest, a.byTag],
        [host, repository, ref, !ref.startsWith('sha256:')],
        text,
      );
    }
  });

  test('bad ones are CONFIG_INVALID naming the input', () => {
    for (const text of ['', 'UPPER/app', 'host.example/app:bad tag', 'host.example/app@sha256:abc', '/app', 'a//b']) {
      assert.throws(
        () => parseImageArg(text),
        (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID',
        JSON.stringify(text),
      );
    }
    assert.throws(() => parseRepositoryArg('host.example/sigs:v1', 'COSIGN_REPOSITORY'), /COSIGN_REPOSITORY/);
    assert.deepEqual(parseRepositoryArg('host.example:5000/sigs/app'), {
      host: 'host.example:5000',
      repository: 'sigs/app',
    });
  });

  test("cosign's docker-reference: Docker Hub as index.docker.io, others as written", () => {
    assert.equal(dockerReference('docker.io', 'library/busybox'), 'index.docker.io/library/busybox');
    assert.equal(dockerReference('127.0.0.1:5000', 'team/app'), '127.0.0.1:5000/team/app');
  });
});

describe('sign flags', () => {
  test('--tlog-upload takes Go booleans and is taken out of argv', () => {
    assert.deepEqual(takeTlogUpload(['--tlog-upload=false', 'img']), { rest: ['img'], tlogUpload: false });
    assert.deepEqual(takeTlogUpload(['--tlog-upload', 'img']), { rest: ['img'], tlogUpload: true });
    assert.deepEqual(takeTlogUpload(['--tlog-upload=F']), { rest: [], tlogUpload: false });
    assert.deepEqual(takeTlogUpload(['img']), { rest: ['img'], tlogUpload: undefined });
    assert.throws(() => takeTlogUpload(['--tlog-upload=maybe']), /true or false/);
  });

  test('-a: comma-separated KEY=VALUE pairs, the value after the first =', () => {
    assert.deepEqual(annotationPairs(['env=prod,team=a=b', 'x=']), { env: 'prod', team: 'a=b', x: '' });
    assert.throws(() => annotationPairs(['=v']), /expected KEY=VALUE/);
    assert.throws(() => annotationPairs(['k']), /expected KEY=VALUE/);
  });
});

describe("docker's config.json", () => {
  const withConfig = (config: unknown, f: (env: Record<string, string>) => void): void => {
    const dir = tempDir('docker-config');
    try {
      mkdirSync(join(dir, '.docker'));
      if (config !== undefined) writeFileSync(join(dir, '.docker', 'config.json'), JSON.stringify(config));
      f({ HOME: dir });
    } finally {
      removeTempDir(dir);
    }
  };
  const auth = (s: string): string => Buffer.from(s).toString('base64');

  test('auths entries by host, and Docker Hub by its URL key; username/password fields too', () => {
    withConfig(
      {
        auths: {
          '127.0.0.1:5000': { auth: auth('alice:pa:ss') },
          'https://index.docker.io/v1/': { auth: auth('bob:hub') },
          'https://registry.example/': { username: 'carol', password: 'pw' },
        },
      },
      (env) => {
        assert.deepEqual(
          { ...dockerCredentials('127.0.0.1:5000', env), file: undefined },
          { username: 'alice', password: 'pa:ss', file: undefined },
        );
        assert.equal((dockerCredentials('docker.io', env) as { username: string }).username, 'bob');
        assert.equal((dockerCredentials('registry.example', env) as { username: string }).username, 'carol');
        assert.equal(dockerCredentials('other.example', env), undefined);
      },
    );
  });

  test('no file: none; credential helpers and identity tokens: unusable, saying what to do', () => {
    withConfig(undefined, (env) => assert.equal(dockerCredentials('x.example', env), undefined));
    withConfig({ credsStore: 'desktop', auths: { 'x.example': {} } }, (env) => {
      const r = dockerCredentials('x.example', env) as { unusable: string };
      assert.match(r.unusable, /docker-credential-desktop.*--config/);
    });
    withConfig({ credHelpers: { 'y.example': 'ecr-login' } }, (env) => {
      assert.match((dockerCredentials('y.example', env) as { unusable: string }).unusable, /ecr-login/);
      assert.equal(dockerCredentials('z.example', env), undefined, 'a helper for another registry is not ours');
    });
    withConfig({ auths: { 'x.example': { identitytoken: 't' } } }, (env) => {
      assert.match((dockerCredentials('x.example', env) as { unusable: string }).unusable, /identity token/);
    });
    withConfig('not an object', (env) => assert.equal(dockerCredentials('x.example', env), undefined));
  });

  test('a malformed file or entry is CONFIG_INVALID', () => {
    const dir = tempDir('docker-config');
    try {
      writeFileSync(join(dir, 'config.json'), '{nope');
      assert.throws(() => dockerCredentials('x.example', { DOCKER_CONFIG: dir }), /is not JSON/);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'x.example': { auth: auth('nocolon') } } }));
      assert.throws(() => dockerCredentials('x.example', { DOCKER_CONFIG: dir }), /user:password/);
    } finally {
      removeTempDir(dir);
    }
  });
});
