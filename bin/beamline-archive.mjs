#!/usr/bin/env node
// The `beamline-archive` command: runs cli/main.ts through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
