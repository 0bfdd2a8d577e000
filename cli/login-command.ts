/**
 * `beamline-archive login`: obtains an access token from the OIDC issuer and stores it where the
 * other commands and src/client find it (src/adapters/access-token-store.ts).
 */
import { parseArgs } from 'node:util';
import { saveToken, tokenFilePath } from '../src/adapters/access-token-store.js';
import { UsageError } from './cli-support.js';

export const HELP = `Usage: beamline-archive login --user NAME [--issuer URL]

Signs in: asks the OIDC issuer's token endpoint (found through its discovery document) for an
access token for NAME and stores it; dataset, analysis and export commands then send it as a
bearer token to the APIs' people URLs.

The local issuer (local/oidc-issuer.ts, started with the local environment) issues tokens for its
test users without a password: alice (member of p1), bob (member of p2), staff (beamline id21),
admin. A facility issuer (Keycloak, UmbrellaID) asks for BEAMLINE_ARCHIVE_PASSWORD as well.

Options:
  --user NAME      the user to sign in as
  --issuer URL     the OIDC issuer (OIDC_ISSUER)
  --client-id ID   the OIDC client (OIDC_CLIENT_ID, default beamline-archive-cli)
  -h, --help       this help

The token is stored in BEAMLINE_ARCHIVE_TOKEN_FILE, else $XDG_CONFIG_HOME/beamline-archive/token.json
(~/.config/beamline-archive/token.json), mode 0600. BEAMLINE_ARCHIVE_TOKEN, when set, is used instead
of the file; BEAMLINE_ARCHIVE_AUTH=iam makes the commands sign with AWS credentials instead.
`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let user: string;
  let issuer: string;
  let clientId: string;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        user: { type: 'string' },
        issuer: { type: 'string' },
        'client-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!values.user) throw new UsageError('--user is required');
    const found = values.issuer ?? env.OIDC_ISSUER;
    if (!found) throw new UsageError('--issuer (or OIDC_ISSUER) is required');
    user = values.user;
    issuer = found.replace(/\/+$/, '');
    clientId = values['client-id'] ?? env.OIDC_CLIENT_ID ?? 'beamline-archive-cli';
  } catch (error) {
    process.stderr.write(`beamline-archive login: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  try {
    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    if (!discovery.ok) throw new Error(`${issuer}/.well-known/openid-configuration answered HTTP ${discovery.status}`);
    const { token_endpoint: tokenEndpoint, issuer: named } = (await discovery.json()) as { token_endpoint?: string; issuer?: string };
    if (typeof tokenEndpoint !== 'string') throw new Error(`the issuer ${issuer} publishes no token_endpoint`);
    const form = new URLSearchParams({ grant_type: 'password', username: user, client_id: clientId, scope: 'openid' });
    if (env.BEAMLINE_ARCHIVE_PASSWORD) form.set('password', env.BEAMLINE_ARCHIVE_PASSWORD);
    const response = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
      signal: AbortSignal.timeout(10_000),
    });
    const answer = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || typeof answer.access_token !== 'string') {
      throw new Error(`the issuer refused: ${answer.error_description ?? answer.error ?? `HTTP ${response.status}`}`);
    }
    const expiresAt = new Date(Date.now() + (answer.expires_in ?? 300) * 1000).toISOString();
    const path = await saveToken(
      { access_token: answer.access_token, token_type: 'Bearer', issuer: named ?? issuer, user, expires_at: expiresAt },
      env,
    );
    process.stdout.write(`${JSON.stringify({ user, issuer: named ?? issuer, expires_at: expiresAt, token_file: path })}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`beamline-archive login: ${(error as Error).message} (token file ${tokenFilePath(env)} unchanged)\n`);
    return 1;
  }
}
