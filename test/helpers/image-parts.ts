// The config and the (first) layer digest of a one-layer test image (helpers/images.ts).
import type { TestImage } from './images.ts';
import { must } from './must.ts';

export const configOf = (i: TestImage): string =>
  (JSON.parse(Buffer.from(i.bytes).toString()) as { config: { digest: string } }).config.digest;

export const layerOf = (i: TestImage): string =>
  must(
    [...i.blobs.keys()].find((d) => d !== configOf(i)),
    'the layer',
  );
