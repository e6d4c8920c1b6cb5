// The auth state of a writer (AuthOptions.actions 'pull,push', used by the CLI's registry writer only): tokens are
// asked for pull and push up front, and a `pull` challenge for the repository being written to is widened to
// `pull,push`; the proxy's default (pull) is unchanged. Scopes are read at a token fake.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { UpstreamAuthState } from '../../src/upstream/auth.ts';
import { UpstreamBoundary } from '../../src/upstream/boundary.ts';
import { json, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { upstreamConfig } from '../helpers/upstream-setup.ts';

describe('token scopes of a writer', () => {
  let tokens: Fake;
  let agent: Agent;

  before(async () => {
    tokens = await startFake((req, res) => {
      const scope = new URL(req.url ?? '/', 'http://x').searchParams.get('scope') ?? '';
      json(res, 200, { token: scope.replace(/[^a-z/,:]/g, ''), expires_in: 300 });
    });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await tokens.close();
  });

  const state = (actions?: 'pull' | 'pull,push') => {
    const cfg = upstreamConfig('http://127.0.0.1:9', { tokenRealms: [tokens.host] });
    return new UpstreamAuthState({
      upstream: cfg.host,
      upstreamUrl: cfg.url,
      boundary: new UpstreamBoundary(cfg),
      dispatcher: agent,
      timeouts: cfg.timeouts,
      ...(actions === undefined ? {} : { actions }),
    });
  };
  const challenge = (scope: string): string => `Bearer realm="${tokens.url}/token",service="reg",scope="${scope}"`;
  const scopesAsked = (from: number): string[] =>
    tokens.requests.slice(from).map((r) => new URL(r.url, 'http://x').searchParams.get('scope') ?? '');

  test('pull,push: a pull challenge on the written repository is widened; other repositories get pull,push', async () => {
    const auth = state('pull,push');
    const start = tokens.requests.length;
    assert.equal(
      await auth.challenged(challenge('repository:team/app:pull'), 'team/app', undefined),
      'Bearer repository:team/app:pull,push',
    );
    assert.equal(
      await auth.authorization('team/app'),
      'Bearer repository:team/app:pull,push',
      'cached, no new request',
    );
    assert.equal(await auth.authorization('team/sigs'), 'Bearer repository:team/sigs:pull,push');
    // A challenge about another repository (a mount's source) or asking for more is left as the registry put it.
    await auth.challenged(challenge('repository:team/app:pull,push repository:team/src:pull'), 'team/app', undefined);
    assert.deepEqual(scopesAsked(start), [
      'repository:team/app:pull,push',
      'repository:team/sigs:pull,push',
      'repository:team/app:pull,push repository:team/src:pull',
    ]);
  });

  test('the default (the proxy): pull only, as challenged', async () => {
    const auth = state();
    const start = tokens.requests.length;
    await auth.challenged(challenge('repository:team/app:pull'), 'team/app', undefined);
    await auth.authorization('team/other');
    assert.deepEqual(scopesAsked(start), ['repository:team/app:pull', 'repository:team/other:pull']);
  });
});
