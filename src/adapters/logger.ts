import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger setup of the project: Powertools Logger (structured JSON) in functions, the
 * bridge and the local tools alike. Keys: runUid, scanKey, stream, dataset.
 */
export function createLogger(serviceName: string, level = process.env.LOG_LEVEL ?? 'INFO'): Logger {
  return new Logger({ serviceName, logLevel: level as 'INFO' });
}

export type { Logger };
