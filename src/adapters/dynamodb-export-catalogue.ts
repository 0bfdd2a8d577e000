/**
 * Export records in the catalogue table (docs/exports.md, "Records and provenance"):
 *
 * | item           | pk              | sk       |
 * | export record  | EXPORT#<id>     | EXPORT   |
 *
 * State moves REQUESTED → BUILDING → COMPLETED | FAILED by conditional updates: the record is
 * created once, a build is claimed by one worker at a time (a lease a dead worker's successor can
 * take over), COMPLETED is never downgraded.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ExportState,
  type ExportCatalogue,
  type ExportFileRecord,
  type ExportProgress,
  type ExportRecord,
  type NewExportRecord,
} from '../core/exports/ports.js';
import type { ExportError, ExportErrorFile } from '../core/contract/generated-types.js';
import type { RunEngine } from '../core/archive/ports.js';
import { isConditionFailure } from './dynamodb-conditions.js';

export const exportPk = (exportId: string) => `EXPORT#${exportId}`;
export const EXPORT_SK = 'EXPORT';

/** The item as stored (snake_case, like the other catalogue items). */
interface ExportItem {
  export_id: string;
  request_id: string;
  format: string;
  runs: string[];
  options: Record<string, unknown>;
  requester?: string;
  origin: ExportRecord['origin'];
  fingerprint: string;
  state: ExportState;
  requested_at: string;
  updated_at: string;
  attempts: number;
  lease_until?: string;
  progress?: ExportProgress;
  files?: ExportFileRecord[];
  provenance?: string;
  notes?: string[];
  completed_at?: string;
  reason?: string;
  errors?: ExportError[];
  error_files?: ExportErrorFile[];
  failed_at?: string;
  announced?: boolean;
  engine?: RunEngine;
  hand_over?: { reason: string; at: string };
}

function toRecord(item: ExportItem): ExportRecord {
  return {
    exportId: item.export_id,
    requestId: item.request_id,
    format: item.format,
    runs: item.runs,
    options: item.options ?? {},
    requester: item.requester,
    origin: item.origin,
    fingerprint: item.fingerprint,
    state: item.state,
    requestedAt: item.requested_at,
    updatedAt: item.updated_at,
    attempts: item.attempts ?? 0,
    leaseUntil: item.lease_until,
    progress: item.progress,
    files: item.files,
    provenance: item.provenance,
    notes: item.notes,
    completedAt: item.completed_at,
    reason: item.reason,
    errors: item.errors,
    errorFiles: item.error_files,
    failedAt: item.failed_at,
    announced: item.announced,
    ...(item.engine ? { engine: item.engine } : {}),
    ...(item.hand_over ? { handOver: item.hand_over } : {}),
  };
}

export class DynamoDbExportCatalogue implements ExportCatalogue {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private key(exportId: string) {
    return { pk: exportPk(exportId), sk: EXPORT_SK };
  }

  async create(record: NewExportRecord): Promise<{ created: boolean; record: ExportRecord }> {
    const item: ExportItem = {
      export_id: record.exportId,
      request_id: record.requestId,
      format: record.format,
      runs: record.runs,
      options: record.options,
      ...(record.requester ? { requester: record.requester } : {}),
      origin: record.origin,
      fingerprint: record.fingerprint,
      state: ExportState.Requested,
      requested_at: record.requestedAt,
      updated_at: record.requestedAt,
      attempts: 0,
    };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.key(record.exportId), ...item },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { created: true, record: toRecord(item) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.get(record.exportId);
      if (!existing) throw error;
      return { created: false, record: existing };
    }
  }

  async get(exportId: string): Promise<ExportRecord | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: this.key(exportId), ConsistentRead: true }));
    return out.Item ? toRecord(out.Item as ExportItem) : undefined;
  }

  async claim(exportId: string, now: string, leaseUntil: string): Promise<ExportRecord | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(exportId),
          UpdateExpression:
            'SET #state = :building, lease_until = :lease, updated_at = :now, attempts = if_not_exists(attempts, :zero) + :one REMOVE progress',
          ConditionExpression: 'attribute_exists(pk) AND (#state = :requested OR (#state = :building AND lease_until < :now))',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':building': ExportState.Building,
            ':requested': ExportState.Requested,
            ':lease': leaseUntil,
            ':now': now,
            ':zero': 0,
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRecord(out.Attributes as ExportItem);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async progress(exportId: string, progress: ExportProgress): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(exportId),
          UpdateExpression: 'SET progress = :p, updated_at = :at',
          ConditionExpression: '#state = :building',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':p': progress, ':at': progress.at, ':building': ExportState.Building },
        }),
      );
    } catch (error) {
      // Progress is advisory: a record that is no longer BUILDING keeps its final state.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async handedOver(exportId: string, handOver: { engine: RunEngine; reason: string; at: string; leaseUntil: string }): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(exportId),
          UpdateExpression: 'SET engine = :engine, hand_over = :handOver, lease_until = :lease, updated_at = :at',
          ConditionExpression: '#state = :building',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':engine': handOver.engine,
            ':handOver': { reason: handOver.reason, at: handOver.at },
            ':lease': handOver.leaseUntil,
            ':at': handOver.at,
            ':building': ExportState.Building,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async completed(
    exportId: string,
    result: { files: ExportFileRecord[]; provenance: string; notes: string[]; completedAt: string; engine?: RunEngine | undefined },
  ): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(exportId),
        UpdateExpression: `SET #state = :completed, files = :files, provenance = :prov, notes = :notes, completed_at = :at, updated_at = :at${result.engine ? ', engine = :engine' : ''} REMOVE progress, lease_until`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':completed': ExportState.Completed,
          ':files': result.files,
          ':prov': result.provenance,
          ':notes': result.notes,
          ':at': result.completedAt,
          ...(result.engine ? { ':engine': result.engine } : {}),
        },
      }),
    );
  }

  async failed(
    exportId: string,
    failure: { reason: string; errors: ExportError[]; errorFiles: ExportErrorFile[]; failedAt: string },
  ): Promise<'failed' | 'already-completed'> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(exportId),
          UpdateExpression:
            'SET #state = :failed, reason = :reason, #errors = :errors, error_files = :files, failed_at = :at, updated_at = :at REMOVE progress, lease_until',
          ConditionExpression: 'attribute_exists(pk) AND #state <> :completed',
          ExpressionAttributeNames: { '#state': 'state', '#errors': 'errors' },
          ExpressionAttributeValues: {
            ':failed': ExportState.Failed,
            ':reason': failure.reason,
            ':errors': failure.errors,
            ':files': failure.errorFiles,
            ':at': failure.failedAt,
            ':completed': ExportState.Completed,
          },
        }),
      );
      return 'failed';
    } catch (error) {
      if (isConditionFailure(error)) return 'already-completed';
      throw error;
    }
  }

  async announced(exportId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(exportId),
        UpdateExpression: 'SET announced = :true, updated_at = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':true': true, ':at': this.clock().toISOString() },
      }),
    );
  }
}
