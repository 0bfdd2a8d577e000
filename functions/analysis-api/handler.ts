/**
 * analysis-api: the analysis store's HTTP API, served by two Lambda function URLs (IAM for
 * machines, OIDC bearer for people: docs/adr/0008). The route table is routes.ts, the frame
 * (auth middleware, error mapping) functions/shared/http-router.ts, the clients compose.ts.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { createApiRouter, serve, type UrlHandler } from '../shared/http-router.js';
import { analysisAnswers, analysisRoutes, type AnalysisApiDeps } from './routes.js';
import { composeAnalysisApi } from './compose.js';

export type { AnalysisApiDeps, UrlHandler };

export function createHandler(deps: AnalysisApiDeps): UrlHandler {
  const router = createApiRouter({ authenticate: deps.authenticate, logger: deps.logger, answers: analysisAnswers, name: 'analysis' });
  analysisRoutes(router, deps);
  return serve(router, analysisAnswers, deps.logger);
}

let built: UrlHandler | undefined;

/** The Lambda entry: clients and configuration are built once, on the first invocation. */
export const handler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyResultV2> => {
  built ??= createHandler(composeAnalysisApi(process.env));
  return built(event, context);
};
