/** Announces one event of the scan-writer on the bus; a refused entry is an error (the delivery is retried). */
import { EventSource } from '../contract/detail-types.js';
import { ArchiveError } from '../errors.js';
import type { EventPublisher } from '../ports.js';

export async function publishOrThrow(publisher: EventPublisher, detailType: string, detail: unknown, runUid: string): Promise<void> {
  const outcome = await publisher.publish([{ detailType, source: EventSource.ScanWriter, detail }]);
  if (outcome.rejected.length > 0) {
    throw new ArchiveError(`the bus refused ${detailType} for run ${runUid}: ${outcome.rejected.map((r) => r.reason).join('; ')}`, {
      runUid,
      detailType,
    });
  }
}
