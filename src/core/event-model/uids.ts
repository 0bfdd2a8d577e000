/** Uids of the documents of one run, derived from the run uid (the same on every replay). */

/** The one event stream of a run (event-model's `primary`). */
export const PRIMARY = 'primary';

export const descriptorUid = (runUid: string, name = PRIMARY) => `${runUid}/descriptor/${name}`;
export const resourceUid = (runUid: string, channel: string) => `${runUid}/resource/${channel}`;
export const runStopUid = (runUid: string) => `${runUid}/stop`;
