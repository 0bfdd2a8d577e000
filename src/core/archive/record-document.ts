import { createHash } from 'node:crypto';
import { DetailType } from '../contract/detail-types.js';
import type { BusEvent } from '../contract/validators.js';
import { ContractError } from '../errors.js';
import type { RunCatalogue } from './ports.js';

export interface RecordedDocument {
  runUid: string;
  detailType: string;
  docUid: string;
  stored: 'stored' | 'duplicate';
}

/**
 * The run-recorder use case: stores one validated run document (idempotent) and keeps the run
 * record's state. Order of arrival does not matter: RunStart only sets RECORDING on a run without
 * a state, Run Failed never downgrades ARCHIVED, the others do not touch the state.
 */
export async function recordDocument(event: BusEvent, catalogue: RunCatalogue): Promise<RecordedDocument> {
  const detailType = event['detail-type'];
  const { runUid, docUid } = identify(event);
  // The run record's fields from RunStart (its dataset key among them) are set before the document is
  // stored: the scan-writer archives once it finds the RunStart document, so a run it archives already
  // has them (on moto a reader saw ARCHIVED without the dataset key when the order was the other way).
  if (detailType === DetailType.RunStart) await catalogue.runStarted((event as BusEvent<typeof DetailType.RunStart>).detail);
  const stored = await catalogue.putDocument(runUid, detailType, docUid, event.detail);
  switch (detailType) {
    case DetailType.RunStop:
      await catalogue.runStopped((event as BusEvent<typeof DetailType.RunStop>).detail);
      break;
    case DetailType.RunFailed:
      await catalogue.runFailed((event as BusEvent<typeof DetailType.RunFailed>).detail);
      break;
    default:
      break;
  }
  return { runUid, detailType, docUid, stored };
}

/** Run uid and document uid of a run document. StreamDatum names its run through its descriptor uid (`<run>/descriptor/<name>`). */
export function identify(event: BusEvent): { runUid: string; docUid: string } {
  const detailType = event['detail-type'];
  switch (detailType) {
    case DetailType.RunStart: {
      const d = (event as BusEvent<typeof DetailType.RunStart>).detail;
      return { runUid: d.uid, docUid: d.uid };
    }
    case DetailType.EventDescriptor: {
      const d = (event as BusEvent<typeof DetailType.EventDescriptor>).detail;
      return { runUid: d.run_start, docUid: d.uid };
    }
    case DetailType.StreamResource: {
      const d = (event as BusEvent<typeof DetailType.StreamResource>).detail;
      return { runUid: d.run_start, docUid: d.uid };
    }
    case DetailType.StreamDatum: {
      const d = (event as BusEvent<typeof DetailType.StreamDatum>).detail;
      const runUid = prefixBefore(d.descriptor, '/descriptor/') ?? prefixBefore(d.stream_resource, '/resource/');
      if (!runUid) {
        throw new ContractError(`StreamDatum ${d.uid}: descriptor ${d.descriptor} does not name its run (<run>/descriptor/<name>)`, {
          detailType,
        });
      }
      return { runUid, docUid: d.uid };
    }
    case DetailType.RunStop: {
      const d = (event as BusEvent<typeof DetailType.RunStop>).detail;
      return { runUid: d.run_start, docUid: d.uid };
    }
    case DetailType.RunFailed: {
      const d = (event as BusEvent<typeof DetailType.RunFailed>).detail;
      // Run Failed has no uid: its content is its identity, so a redelivery lands on the same item.
      return { runUid: d.run_uid, docUid: createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 32) };
    }
    default:
      throw new ContractError(`run-recorder does not take ${detailType} events`, { detailType });
  }
}

function prefixBefore(value: string, marker: string): string | undefined {
  const i = value.indexOf(marker);
  return i > 0 ? value.slice(0, i) : undefined;
}
