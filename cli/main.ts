/**
 * `beamline-archive <command> …`: one entry point for every command line tool of the project.
 * Each command is a module exporting `main(argv, env): Promise<number>` (the exit code) and `HELP`.
 */
export interface CommandModule {
  main(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
  HELP: string;
}

/** The commands, loaded on demand so that `bridge` does not load what `dataset` needs. */
export const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  bridge: { summary: 'follow BLISS scans in Redis and forward them to the archive', load: () => import('../bridge/cli.js') },
  dataset: {
    summary: 'open, describe and close ICAT datasets (techniques, metadata, master file)',
    load: () => import('./dataset-command.js'),
  },
  analysis: { summary: 'save derived data with provenance; lineage and PROV-JSON', load: () => import('./analysis-command.js') },
  export: {
    summary: 'export archived runs as nxstxm, nexus or csv (request, progress, download)',
    load: () => import('./export-command.js'),
  },
  login: {
    summary: 'sign in with the OIDC issuer; the other commands then send your access token',
    load: () => import('./login-command.js'),
  },
  runs: { summary: 'runs that need a person: list by state, show what is missing, retry', load: () => import('./runs-command.js') },
  dlq: { summary: 'the dead-letter queues: list, show why messages are there, redrive', load: () => import('./dlq-command.js') },
};

export const USAGE = () => `Usage: beamline-archive <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join('\n')}

Run \`beamline-archive <command> --help\` for a command's options.`;

export async function main(argv = process.argv.slice(2), env = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`beamline-archive: unknown command ${JSON.stringify(name)}\n\n${USAGE()}\n`);
    return 2;
  }
  return (await command.load()).main(rest, env);
}
