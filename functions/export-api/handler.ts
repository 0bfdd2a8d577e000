/**
 * export-api: exports on demand, served by two Lambda function URLs (IAM for machines, OIDC bearer
 * for people: docs/adr/0008). The route table is routes.ts, the frame (auth middleware, error
 * mapping) functions/shared/http-router.ts, the clients compose.ts.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { createApiRouter, serve, type UrlHandler } from '../shared/http-router.js';
import { exportAnswers, exportRoutes, present, type ExportApiDeps } from './routes.js';
import { composeExportApi } from './compose.js';

export { present };
export type { ExportApiDeps, UrlHandler };

export function createHandler(deps: ExportApiDeps): UrlHandler {
  const router = createApiRouter({ authenticate: deps.authenticate, logger: deps.logger, answers: exportAnswers, name: 'export' });
  exportRoutes(router, deps);
  return serve(router, exportAnswers, deps.logger);
}

let built: UrlHandler | undefined;

/** The Lambda entry: clients and configuration are built once, on the first invocation. */
export const handler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyResultV2> => {
  built ??= createHandler(composeExportApi(process.env));
  return built(event, context);
};
