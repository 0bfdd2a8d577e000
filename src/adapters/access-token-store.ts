/**
 * Where `beamline-archive login` keeps the caller's access token, and where the CLI and the
 * TypeScript clients find it: BEAMLINE_ARCHIVE_TOKEN (the token itself) wins, else the file
 * BEAMLINE_ARCHIVE_TOKEN_FILE, else `$XDG_CONFIG_HOME/beamline-archive/token.json`
 * (`~/.config/…`). The file is written with mode 0600 in a 0700 folder.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface StoredToken {
  access_token: string;
  token_type: 'Bearer';
  issuer: string;
  user: string;
  /** ISO time the token expires. */
  expires_at: string;
}

export function tokenFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BEAMLINE_ARCHIVE_TOKEN_FILE) return env.BEAMLINE_ARCHIVE_TOKEN_FILE;
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(config, 'beamline-archive', 'token.json');
}

export async function saveToken(token: StoredToken, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = tokenFilePath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(token, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

/** The bearer token to send, or undefined (the caller then signs with SigV4). Throws when the stored token has expired. */
export async function loadAccessToken(env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<string | undefined> {
  if (env.BEAMLINE_ARCHIVE_TOKEN) return env.BEAMLINE_ARCHIVE_TOKEN.trim();
  let text: string;
  try {
    text = await readFile(tokenFilePath(env), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const stored = JSON.parse(text) as Partial<StoredToken>;
  if (typeof stored.access_token !== 'string')
    throw new Error(`${tokenFilePath(env)} holds no access_token: run beamline-archive login again`);
  if (stored.expires_at && Date.parse(stored.expires_at) <= now.getTime()) {
    throw new Error(
      `the access token of ${stored.user ?? 'the signed-in user'} expired at ${stored.expires_at}: run beamline-archive login again`,
    );
  }
  return stored.access_token;
}
