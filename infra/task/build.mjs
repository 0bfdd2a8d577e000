// Bundles the archive task's entry point (functions/archive-task/main.ts) into one ESM file, as the
// functions are bundled (infra/constructs/archive-function.ts) but with the AWS SDK inside (a
// container has no runtime SDK) and h5wasm beside it. `node infra/task/build.mjs <outdir>`: run by
// infra/task/Dockerfile, and by test/infra/archive-task.test.ts, which runs the bundle.
import { build } from 'esbuild';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function buildArchiveTask(outdir) {
  const outfile = join(resolve(outdir), 'archive-task.mjs');
  await build({
    entryPoints: [join(root, 'functions/archive-task/main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    outfile,
    sourcemap: true,
    external: ['h5wasm'],
    banner: {
      js: "import { createRequire as __beamlineCreateRequire } from 'node:module'; const require = __beamlineCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildArchiveTask(process.argv[2] ?? 'dist');
}
