/**
 * The one HTTP frame of the three function-URL APIs (dataset-api, export-api, analysis-api):
 * Powertools' Event Handler router (`@aws-lambda-powertools/event-handler/http`) with
 *
 * - an auth middleware that resolves the caller once per request (functions/shared/caller.ts: the
 *   IAM principal on the IAM URL, the verified OIDC bearer on the people URL, else anonymous) and
 *   keeps it in the request store; every route reads it with `requestOf` and applies the policy;
 * - one error mapping: access failures (functions/shared/access-errors.ts: 401 / 403 / 503 +
 *   Retry-After), malformed percent-encoding in a path parameter (400), no route (404, wrong
 *   method included, as before), the API's own errors (its `answer`), anything else a 500 without
 *   internals (logged with the request id).
 *
 * Where Powertools 2.35 and the APIs' contract differ, `serve` bridges the gap (docs/adr/0020):
 * a verb Powertools does not know (it would answer an empty 405 and log a stack) is a 404 like any
 * other unknown route; a GET/HEAD body is ignored (the WHATWG Request it builds refuses one and the
 * error would escape as a 502); an event it cannot turn into a Request (an unparseable Host) is a 400;
 * an answer it cannot turn into a Response (escaping as a 502) is a logged 500.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import {
  isHttpMethod,
  NotFoundError,
  ParameterValidationError,
  proxyEventToWebRequest,
  Router,
} from '@aws-lambda-powertools/event-handler/http';
import type { RequestContext } from '@aws-lambda-powertools/event-handler/types';
import type { Logger } from '../../src/adapters/logger.js';
import { CallerKind, type Caller } from '../../src/core/access/caller.js';
import { InvalidInputError } from '../../src/core/errors.js';
import type { Authenticate } from './caller.js';
import { accessFailure } from './access-errors.js';

/** What a route answers: a function-URL result with a JSON (or empty) body. */
export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** The request store of the APIs' routers: the caller the auth middleware resolved. */
export type ApiEnv = { store: { request: { caller: Caller } } };
export type ApiRouter = Router<ApiEnv>;
export type UrlHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/** What differs between the APIs' error answers. */
export interface ApiAnswers {
  /** The answer to one of the API's own errors (bad input, not found, conflict…), undefined for any other error. */
  answer(error: unknown): ApiResponse | undefined;
  /** No route for this method and path (404). */
  noRoute(method: string, path: string): ApiResponse;
  /** An unexpected failure (500), without internals. */
  internal(requestId: string): ApiResponse;
}

/** What a route handler needs of a request: the payload-2.0 event, the caller, the decoded path parameters. */
export interface ApiRequest {
  event: APIGatewayProxyEventV2;
  caller: Caller;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  method: string;
}

export function requestOf(reqCtx: RequestContext<ApiEnv>): ApiRequest {
  const caller = reqCtx.get('caller');
  if (reqCtx.responseType !== 'ApiGatewayV2')
    throw new Error(`the APIs serve function-URL (payload 2.0) events only, not ${reqCtx.responseType}`);
  if (!caller) throw new Error('no caller in the request store: the auth middleware did not run');
  const { event } = reqCtx;
  return {
    event,
    caller,
    params: reqCtx.params,
    query: event.queryStringParameters ?? {},
    method: event.requestContext.http.method.toUpperCase(),
  };
}

/** The request's path as the 404 names it: as matched (encoded; Powertools matches the encoded path), trailing slashes off. */
function shownPath(rawPath: string | undefined): string {
  // A scan, not /\/+$/: linear on a path of many slashes (the request's, so anyone's).
  const path = rawPath ?? '/';
  let end = path.length;
  while (end > 0 && path[end - 1] === '/') end--;
  return path.slice(0, end) || '/';
}

function isCaller(value: unknown): value is Caller {
  return (
    typeof value === 'object' && value !== null && Object.values(CallerKind).includes((value as { kind?: unknown }).kind as Caller['kind'])
  );
}

export interface ApiRouterOptions {
  authenticate: Authenticate;
  logger: Logger;
  answers: ApiAnswers;
  /** For the failure log line. */
  name: string;
}

/** A router with the auth middleware and the error mapping; the API registers its routes on it. */
export function createApiRouter({ authenticate, logger, answers, name }: ApiRouterOptions): ApiRouter {
  const router = new Router<ApiEnv>({ logger });
  router.use(async ({ reqCtx, next }) => {
    if (reqCtx.responseType !== 'ApiGatewayV2')
      throw new Error(`the APIs serve function-URL (payload 2.0) events only, not ${reqCtx.responseType}`);
    reqCtx.set('caller', await authenticate(reqCtx.event));
    await next();
  });
  router.errorHandler(Error, async (error, reqCtx) => {
    const event = reqCtx.responseType === 'ApiGatewayV2' ? reqCtx.event : undefined;
    const method = event?.requestContext.http.method.toUpperCase() ?? '';
    const stored: unknown = reqCtx.get('caller');
    const refused = accessFailure(error, isCaller(stored) ? stored : undefined);
    if (refused) return refused;
    // Powertools decodes path parameters with decodeURIComponent while it matches the route.
    if (error instanceof URIError) {
      return (
        answers.answer(
          new InvalidInputError(
            `the path has malformed percent-encoding: ${JSON.stringify((event?.rawPath ?? '').slice(0, 200))}`,
            {},
            { cause: error },
          ),
        ) ?? json(400, { error: 'the path has malformed percent-encoding' })
      );
    }
    // A blank path parameter (`/runs/%20`) matches no route, as before.
    if (error instanceof NotFoundError || error instanceof ParameterValidationError)
      return answers.noRoute(method, shownPath(event?.rawPath));
    const own = answers.answer(error);
    if (own) return own;
    const requestId = event?.requestContext.requestId ?? '';
    logger.error(`${name} request failed`, { path: event?.rawPath, error });
    return answers.internal(requestId);
  });
  return router;
}

/**
 * The Lambda entry of an API: the event resolved by the router, after the three fixes of the
 * module comment. `answers.noRoute` also answers a verb Powertools does not know.
 */
export function serve(router: ApiRouter, answers: ApiAnswers, logger: Logger): UrlHandler {
  return async (event, context) => {
    const method = (event.requestContext?.http?.method ?? '').toUpperCase();
    if (!isHttpMethod(method)) return answers.noRoute(method, shownPath(event.rawPath));
    let readable = event;
    if ((method === 'GET' || method === 'HEAD') && event.body !== undefined) {
      const { body: _ignored, ...rest } = event;
      readable = { ...rest, isBase64Encoded: false };
    }
    try {
      // What the router does first, done here so that its failure is the client's 400, not a thrown 502.
      proxyEventToWebRequest(readable);
    } catch (error) {
      logger.warn('request refused: not readable as an HTTP request', { path: event.rawPath, error: error as Error });
      return json(400, { error: `the request could not be read: ${(error as Error).message}` });
    }
    try {
      return await router.resolve(readable, context);
    } catch (error) {
      // Escapes the router only when an answer cannot be turned into a response (a header value Web Headers refuse).
      logger.error('the answer could not be sent', { path: event.rawPath, error: error as Error });
      return answers.internal(event.requestContext.requestId);
    }
  };
}
