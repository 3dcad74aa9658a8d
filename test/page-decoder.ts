// The page's event decoder as the page build makes it: bundled by esbuild with the checks
// generated from the wire schemas (scripts/event-checks.ts), then loaded from its bundled text.

import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ServerEvent } from '../src/protocol/index.js';
import { eventChecksPlugin, pureProtocolPlugin } from '../scripts/event-checks.js';
import { pageErrorsPlugin } from '../scripts/page-errors.js';

type Check = (value: unknown) => boolean;

export interface PageDecoder {
  decodeServerEvent(frame: string): ServerEvent | null;
  EVENT_CHECKS: Readonly<Record<string, Check>>;
  RESULT_CHECKS: Readonly<Record<string, Check>>;
  /** The bundle's inputs that made it into the output. */
  shipped: string[];
  closeNotice(code: number, reason: string): string | undefined;
  /** The page's copy of the error registry. */
  ERRORS: Readonly<Record<string, object>>;
}

const root = fileURLToPath(new URL('..', import.meta.url));

let loaded: Promise<PageDecoder> | undefined;

/** Bundled once per test process: each bundle is a second of esbuild. */
export function loadPageDecoder(): Promise<PageDecoder> {
  loaded ??= bundlePageDecoder();
  return loaded;
}

async function bundlePageDecoder(): Promise<PageDecoder> {
  const r = await build({
    absWorkingDir: root,
    stdin: {
      contents: [
        "export { decodeServerEvent } from './src/client/server-events.ts';",
        "export { EVENT_CHECKS, RESULT_CHECKS } from 'parley:event-checks';",
        "export { closeNotice } from './src/client/notices.ts';",
        "export { ERRORS } from './src/protocol/errors.ts';",
      ].join('\n'),
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    outfile: 'page-decoder.js',
    logLevel: 'silent',
    plugins: [eventChecksPlugin(), pureProtocolPlugin(), pageErrorsPlugin(root)],
  });
  const [file] = r.outputFiles;
  if (!file) throw new Error('esbuild wrote nothing');
  const url = `data:text/javascript;base64,${Buffer.from(file.text).toString('base64')}`;
  const mod = (await import(url)) as Omit<PageDecoder, 'shipped'>;
  const shipped = Object.values(r.metafile.outputs).flatMap((o) =>
    Object.entries(o.inputs).flatMap(([f, i]) => (i.bytesInOutput > 0 ? [f] : [])),
  );
  return { ...mod, shipped };
}
