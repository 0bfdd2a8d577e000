// PLACEHOLDER so that infra can synthesize while the real handler is being written. Replaced by the real handler.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
export const handler = async (_event: SQSEvent): Promise<SQSBatchResponse> => {
  throw new Error('not implemented yet');
};
