import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * How to reach AWS. In Lambda everything comes from the runtime; locally `endpoint` points at the
 * embedded emulator (moto) or LocalStack. The SDK also honours AWS_ENDPOINT_URL by itself; passing
 * it explicitly keeps the composition roots honest about where they talk to.
 */
export interface AwsConnection {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-request timeouts of every client built from this connection (the functions': awsConnectionFromEnv). */
  timeouts?: AwsTimeouts;
}

export function awsConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): AwsConnection {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'eu-west-1',
    ...(endpoint ? { endpoint } : {}),
    timeouts: awsTimeoutsFromEnv(env),
  };
}

/**
 * How long one AWS request of a function may take (AWS_REQUEST_TIMEOUT_MS, AWS_CONNECT_TIMEOUT_MS;
 * defaults FUNCTION_AWS_TIMEOUTS): a request to a service that accepts and never answers is
 * abandoned and retried by the SDK, instead of holding the function until its own timeout.
 */
export function awsTimeoutsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsTimeouts {
  const read = (name: string, fallback: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < 1)
      throw new Error(`${name} must be a positive number of milliseconds, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  return {
    requestMs: read('AWS_REQUEST_TIMEOUT_MS', FUNCTION_AWS_TIMEOUTS.requestMs),
    connectMs: read('AWS_CONNECT_TIMEOUT_MS', FUNCTION_AWS_TIMEOUTS.connectMs),
  };
}

function common(conn: AwsConnection) {
  return {
    region: conn.region,
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    ...(conn.credentials ? { credentials: conn.credentials } : {}),
    // Without throwOnRequestTimeout the SDK only logs at the timeout and keeps waiting.
    ...(conn.timeouts
      ? {
          requestHandler: {
            requestTimeout: conn.timeouts.requestMs,
            connectionTimeout: conn.timeouts.connectMs,
            throwOnRequestTimeout: true,
          },
        }
      : {}),
  };
}

export interface AwsClients {
  s3: S3Client;
  dynamo: DynamoDBDocumentClient;
  events: EventBridgeClient;
  sqs: SQSClient;
  sns: SNSClient;
}

/** Builds every client once (composition root); pass them inward. */
export function createAwsClients(conn: AwsConnection): AwsClients {
  return {
    // Path-style addressing: emulators on loopback have no virtual-host DNS.
    s3: new S3Client({ ...common(conn), forcePathStyle: conn.endpoint !== undefined }),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(common(conn)), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    events: new EventBridgeClient(common(conn)),
    sqs: new SQSClient(common(conn)),
    sns: new SNSClient(common(conn)),
  };
}

/** The ECS client of a task engine (built only where a function starts ECS tasks). */
export function createEcsClient(conn: AwsConnection): ECSClient {
  return new ECSClient(common(conn));
}

/** How long the bridge's AWS requests may take before they are abandoned and retried like a 5xx (ms). */
export interface AwsTimeouts {
  requestMs: number;
  connectMs: number;
}

export const DEFAULT_AWS_TIMEOUTS: AwsTimeouts = { requestMs: 30_000, connectMs: 5_000 };

/**
 * The functions' defaults: a minute per request (a multipart part or a DynamoDB page inside AWS takes
 * well under a second; a minute leaves room for a loaded emulator), 5 s to connect.
 */
export const FUNCTION_AWS_TIMEOUTS: AwsTimeouts = { requestMs: 60_000, connectMs: 5_000 };

/**
 * The bridge's S3 and EventBridge clients (the edge: a request may hang on a beamline network). A request that hangs (a connection that accepts and never
 * answers) is abandoned after `requestMs`: without `throwOnRequestTimeout` the SDK's handler only
 * logs a warning at the timeout and the request waits for ever (a chunk never staged, SIGTERM never
 * done; test/integration/bridge-aws-timeouts.test.ts).
 */
export function createBridgeAwsClients(
  conn: AwsConnection,
  timeouts: AwsTimeouts = DEFAULT_AWS_TIMEOUTS,
): { s3: S3Client; events: EventBridgeClient } {
  const timed = common({ ...conn, timeouts });
  return {
    s3: new S3Client({ ...timed, forcePathStyle: conn.endpoint !== undefined }),
    events: new EventBridgeClient(timed),
  };
}
