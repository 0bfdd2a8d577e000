/**
 * Starts LocalStack here (host mode, DynamoDB by the project's moto provider plugin) on a free
 * loopback port, prints the environment that points the tests, the demo and the CLI at it, and
 * stops it (removing its state) on Ctrl-C or SIGTERM:
 *
 *   npm run localstack                 # or: npm run localstack -- --port 4566 --log /tmp/ls.log
 *   export AWS_ENDPOINT_URL=…          # in another shell, as printed
 *   npm test -- --target localstack integration e2e
 *
 * `npm test -- --target localstack` starts and stops its own when AWS_ENDPOINT_URL is unset.
 */
import { parseArgs } from 'node:util';
import { awsEnvironment } from './aws-target.js';
import { startLocalStack } from './services.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, log: { type: 'string' } } });
const t0 = Date.now();
const localStack = await startLocalStack({
  ...(values.port ? { port: Number(values.port) } : {}),
  ...(values.log ? { logFile: values.log } : {}),
});
process.stdout.write(`LocalStack ready at ${localStack.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s (Ctrl-C stops it)\n`);
process.stdout.write(
  `export ${Object.entries(awsEnvironment(localStack.url))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}\n`,
);
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void localStack.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
localStack.process.once('exit', (code) => {
  if (!stopping) {
    process.stderr.write(`LocalStack exited on its own (code ${code})\n`);
    process.exit(1);
  }
});
