// A function-URL handler that answers who called it, as the API functions authenticate (functions/shared/caller.ts).
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { accessFailure } from '../../../functions/shared/access-errors.js';
import { authenticatorFromEnv } from '../../../functions/shared/caller.js';

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> => {
  try {
    const caller = await authenticatorFromEnv(process.env)(event);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(caller) };
  } catch (error) {
    const refused = accessFailure(error, undefined);
    if (refused) return refused;
    throw error;
  }
};
