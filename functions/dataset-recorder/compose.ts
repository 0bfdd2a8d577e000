/**
 * Composition root of the dataset-recorder: the dataset service (functions/shared/dataset-service.ts,
 * the environment checked once), its logger and the dead-letter queue, on one set of clients.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { deadLetterQueueFromEnv } from '../../src/adapters/sqs-dead-letter-queue.js';
import type { MasterFileWriter } from '../../src/core/datasets/ports.js';
import type { DatasetService } from '../../src/core/datasets/dataset-service.js';
import { buildDatasetService } from '../shared/dataset-service.js';

/** The recorder has no h5wasm layer: a close through it would be a bug, and says so. */
const NO_MASTER_FILES: MasterFileWriter = {
  write: () => Promise.reject(new Error('dataset-recorder does not write master files (closing happens in dataset-api)')),
};

/** The handler's dependencies (handler.ts: DatasetRecorderDeps). */
export function composeDatasetRecorder(env: NodeJS.ProcessEnv = process.env) {
  const logger = createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'dataset-recorder');
  const clients = createAwsClients(awsConnectionFromEnv(env));
  const service: DatasetService = buildDatasetService('dataset-recorder', logger, NO_MASTER_FILES, env, clients);
  return {
    service,
    logger,
    deadLetters: deadLetterQueueFromEnv(clients.sqs, env),
    metrics: createMetrics(env.POWERTOOLS_SERVICE_NAME ?? 'dataset-recorder'),
  };
}
