// A function-URL handler for the gateway test: echoes what it received and one environment variable.
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  if (event.rawPath === '/boom') throw new Error('handler failure with a secret detail');
  return {
    statusCode: event.rawPath === '/created' ? 201 : 200,
    headers: { 'x-echo': 'yes' },
    body: JSON.stringify({
      method: event.requestContext.http.method,
      rawPath: event.rawPath,
      query: event.queryStringParameters ?? {},
      body: event.body === undefined ? null : (JSON.parse(event.body) as unknown),
      greeting: process.env.GREETING,
    }),
  };
}
