/**
 * Composition root of the run-recorder: TABLE_NAME (required), EVENT_BUS_NAME (optional: without
 * it no Run Failed is announced) and BUCKET_NAME (optional: without it the staged objects of failed
 * runs are not tagged) checked once; the run catalogue, the bus, the staging tagger, its logger and
 * the dead-letter queue on one set of clients.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { DynamoDbRunCatalogue } from '../../src/adapters/dynamodb-run-catalogue.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge-publisher.js';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { deadLetterQueueFromEnv } from '../../src/adapters/sqs-dead-letter-queue.js';
import { S3StagingTagger } from '../../src/adapters/s3-staging-tagger.js';

export interface RunRecorderConfig {
  tableName: string;
  eventBusName: string | undefined;
  bucketName: string | undefined;
}

export function runRecorderConfigFromEnv(env: NodeJS.ProcessEnv): RunRecorderConfig {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('run-recorder: environment variable TABLE_NAME is not set');
  return { tableName, eventBusName: env.EVENT_BUS_NAME || undefined, bucketName: env.BUCKET_NAME || undefined };
}

/** The handler's dependencies (handler.ts: RunRecorderDeps). */
export function composeRunRecorder(env: NodeJS.ProcessEnv = process.env) {
  const config = runRecorderConfigFromEnv(env);
  const clients = createAwsClients(awsConnectionFromEnv(env));
  return {
    catalogue: new DynamoDbRunCatalogue(clients.dynamo, config.tableName),
    logger: createLogger(env.POWERTOOLS_SERVICE_NAME ?? 'run-recorder'),
    publisher: config.eventBusName ? new EventBridgePublisher(clients.events, { eventBusName: config.eventBusName }) : undefined,
    deadLetters: deadLetterQueueFromEnv(clients.sqs, env),
    staging: config.bucketName ? new S3StagingTagger(clients.s3, config.bucketName) : undefined,
    metrics: createMetrics(env.POWERTOOLS_SERVICE_NAME ?? 'run-recorder'),
  };
}
