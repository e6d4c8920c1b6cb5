// What a request is about once http/routing.ts has mapped its shape (host prefix, ?ns=, default upstream) to a
// configured upstream: the services below http/ take this, never a request.
import type { UpstreamConfig } from '../config/types.ts';

export interface Target {
  readonly upstream: UpstreamConfig;
  /** The repository on the upstream (after `library/` expansion). */
  readonly repository: string;
}
