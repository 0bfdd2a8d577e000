/**
 * dataset-api: the datasets' HTTP API, served by two Lambda function URLs (IAM for machines, OIDC
 * bearer for people: docs/adr/0008). The route table is routes.ts, the frame (auth middleware,
 * error mapping) functions/shared/http-router.ts, the clients compose.ts.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { createApiRouter, serve, type UrlHandler } from '../shared/http-router.js';
import { datasetAnswers, datasetRoutes, present, type DatasetApiDeps } from './routes.js';
import { composeDatasetApi } from './compose.js';

export { present };
export type { DatasetApiDeps, UrlHandler };

export function createHandler(deps: DatasetApiDeps): UrlHandler {
  const router = createApiRouter({ authenticate: deps.authenticate, logger: deps.logger, answers: datasetAnswers, name: 'dataset' });
  datasetRoutes(router, deps);
  return serve(router, datasetAnswers, deps.logger);
}

let built: Promise<UrlHandler> | undefined;

/** The Lambda entry: clients, the wasm module and configuration are built once. */
export const handler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyResultV2> => {
  built ??= composeDatasetApi(process.env).then(createHandler);
  built.catch(() => {
    built = undefined;
  });
  return (await built)(event, context);
};
