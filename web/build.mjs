// Bundles the portal (web/src/main.tsx, React + @h5web/app) into web/dist with esbuild: one JS
// bundle, one CSS bundle, index.html. Run by `npm run build:web` (and by scripts/setup.sh).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.tsx')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outdir: out,
  entryNames: 'portal',
  jsx: 'automatic',
  loader: { '.woff2': 'file', '.woff': 'file', '.svg': 'file' },
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
