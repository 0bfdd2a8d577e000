/**
 * The visibility heartbeat of a queue-fed function, from its environment (read once, at the edge):
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `VISIBILITY_HEARTBEAT_SECONDS` | seconds between two ChangeMessageVisibility calls | 60 |
 * | `VISIBILITY_TIMEOUT_SECONDS` | visibility each call sets (how soon a crashed run's message comes back) | 300 |
 */
export interface HeartbeatConfig {
  everySeconds: number;
  timeoutSeconds: number;
}

export function heartbeatConfigFromEnv(env: Readonly<Record<string, string | undefined>>): HeartbeatConfig {
  const read = (name: string, fallback: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new Error(`${name} must be a whole number of seconds from 1 to ${max}, got ${JSON.stringify(raw)}`);
    return value;
  };
  const everySeconds = read('VISIBILITY_HEARTBEAT_SECONDS', 60, 43_199);
  const timeoutSeconds = read('VISIBILITY_TIMEOUT_SECONDS', 300, 43_200);
  if (everySeconds >= timeoutSeconds) {
    throw new Error(
      `VISIBILITY_HEARTBEAT_SECONDS (${everySeconds}) must be below VISIBILITY_TIMEOUT_SECONDS (${timeoutSeconds}): the message would reappear between beats`,
    );
  }
  return { everySeconds, timeoutSeconds };
}
