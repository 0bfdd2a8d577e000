/**
 * Composition root of the notifier: ALARM_TOPIC_ARN (checked once), the SNS notifier, its logger,
 * metrics and dead-letter queue, on one set of clients.
 */
import { awsConnectionFromEnv, createAwsClients } from '../../src/adapters/aws-clients.js';
import { createLogger } from '../../src/adapters/logger.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { SnsNotifier } from '../../src/adapters/sns-notifier.js';
import { deadLetterQueueFromEnv } from '../../src/adapters/sqs-dead-letter-queue.js';

export interface NotifierConfig {
  topicArn: string;
  serviceName: string;
}

export function notifierConfigFromEnv(env: NodeJS.ProcessEnv): NotifierConfig {
  const topicArn = env.ALARM_TOPIC_ARN;
  if (!topicArn) throw new Error('notifier: environment variable ALARM_TOPIC_ARN is not set');
  return { topicArn, serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'notifier' };
}

/** The handler's dependencies (handler.ts: NotifierDeps). */
export function composeNotifier(env: NodeJS.ProcessEnv = process.env) {
  const config = notifierConfigFromEnv(env);
  const clients = createAwsClients(awsConnectionFromEnv(env));
  return {
    notifier: new SnsNotifier(clients.sns, config.topicArn),
    logger: createLogger(config.serviceName),
    metrics: createMetrics(config.serviceName),
    deadLetters: deadLetterQueueFromEnv(clients.sqs, env),
  };
}
