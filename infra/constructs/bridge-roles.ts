import { Annotations, CfnOutput, Duration } from 'aws-cdk-lib';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { AccountRootPrincipal, Effect, ManagedPolicy, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { bridgeSourceOf, normaliseBeamline } from '../../src/core/access/edge-source.js';
import { DetailType } from '../../src/core/contract/detail-types.js';
import { Prefix } from '../../src/core/object-keys.js';
import { acknowledgeObjectPrefixWildcard } from './nag.js';

/** Every detail-type a bridge puts on the bus (bridge/: run documents, its own Run Failed, its heartbeat). */
export const BRIDGE_DETAIL_TYPES = [
  DetailType.RunStart,
  DetailType.EventDescriptor,
  DetailType.StreamResource,
  DetailType.StreamDatum,
  DetailType.RunStop,
  DetailType.RunFailed,
  DetailType.BridgeHeartbeat,
] as const;

/**
 * The beamlines whose bridges may publish: the context `beamlines` (`-c beamlines=id21,id16b`, or a
 * JSON list in cdk.json), each a beamline name (src/core/access/edge-source.ts). None by default:
 * then no bridge can publish, and synthesis warns.
 */
export function beamlinesFromContext(scope: Construct): string[] {
  const value: unknown = scope.node.tryGetContext('beamlines');
  if (value === undefined || value === null || value === '') return [];
  let list: unknown = value;
  if (typeof value === 'string') list = value.trim().startsWith('[') ? (JSON.parse(value) as unknown) : value.split(',');
  if (!Array.isArray(list))
    throw new Error(`context beamlines must be a list of beamline names (id21,id16b), got ${JSON.stringify(value)}`);
  const names = list
    .map((b) => String(b))
    .filter((b) => b.trim() !== '')
    .map((b) => {
      try {
        return normaliseBeamline(b);
      } catch (error) {
        throw new Error(`context beamlines: ${(error as Error).message}`, { cause: error });
      }
    });
  return [...new Set(names)];
}

export interface BridgeRolesProps {
  readonly bucket: IBucket;
  readonly eventBus: IEventBus;
  readonly beamlines: readonly string[];
}

/**
 * One IAM role per beamline: the credential of that beamline's bridge (docs/access.md, "The edge").
 * It may put on the bus only events whose source is `beamline-archive.bridge.<beamline>` and whose
 * detail-type is one a bridge sends, stage objects under staging/<beamline>/ only, and upload Lima files only into
 * scan folders below a `/<beamline>/` segment of archive/ (the data policy's
 * archive/<proposal>/<beamline>/…). The functions check the rest: that a run's data-policy
 * beamline is the beamline of the source that sent it.
 */
export class BridgeRoles extends Construct {
  /** The role of each beamline's bridge, by beamline name. */
  readonly roles: Record<string, Role> = {};

  constructor(scope: Construct, id: string, props: BridgeRolesProps) {
    super(scope, id);
    const { bucket, eventBus } = props;
    if (props.beamlines.length === 0) {
      Annotations.of(this).addWarningV2(
        'beamline-archive:no-beamlines',
        'No bridge role: no beamline is configured (-c beamlines=id21,id16b), so no bridge can publish scans (docs/access.md, "The edge")',
      );
    }
    for (const beamline of props.beamlines.map(normaliseBeamline)) {
      const source = bridgeSourceOf(beamline);
      const role = new Role(this, `Bridge-${beamline}`, {
        assumedBy: new AccountRootPrincipal(),
        description: `beamline-archive bridge of beamline ${beamline}: publishes as ${source}`,
        maxSessionDuration: Duration.hours(12),
      });
      const policy = new ManagedPolicy(this, `Bridge-${beamline}-Policy`, {
        description: `The ${beamline} bridge: PutEvents as ${source} only, staged chunks under staging/${beamline}/, Lima files into ${beamline}'s scan folders`,
        roles: [role],
        statements: [
          new PolicyStatement({
            sid: 'PublishAsThisBeamline',
            effect: Effect.ALLOW,
            actions: ['events:PutEvents'],
            resources: [eventBus.eventBusArn],
            // Both keys are single-valued per entry: this source, and one of the bridge's detail-types.
            conditions: { StringEquals: { 'events:source': source, 'events:detail-type': [...BRIDGE_DETAIL_TYPES] } },
          }),
          new PolicyStatement({
            sid: 'StageChunks',
            effect: Effect.ALLOW,
            actions: ['s3:PutObject'],
            // Its own beamline's staging only (staging/<beamline>/<run>/…, src/core/object-keys.ts): another
            // beamline's bridge can neither overwrite nor plant this beamline's staged chunks.
            resources: [bucket.arnForObjects(`${Prefix.Staging}${beamline}/*`)],
          }),
          new PolicyStatement({
            // Lima detector files go next to their scan file (<dataset folder>/scan<NNNN>/<detector>_<NNNN>.h5,
            // docs/bridge.md) so its relative external links resolve in S3 and in a downloaded dataset folder.
            sid: 'UploadLimaFiles',
            effect: Effect.ALLOW,
            actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
            resources: [bucket.arnForObjects(`${Prefix.Archive}*/${beamline}/*/scan*/*`)],
          }),
        ],
      });
      acknowledgeObjectPrefixWildcard(
        policy,
        bucket,
        Prefix.Staging,
        `Staged chunk keys are per run and channel (staging/${beamline}/<run>/<channel>/<start>-<stop>.bin); confined to this beamline's staging folder, and every chunk is checked against the sha256 of its StreamDatum.`,
        `${Prefix.Staging}${beamline}/*`,
      );
      acknowledgeObjectPrefixWildcard(
        policy,
        bucket,
        Prefix.Archive,
        `Lima files are uploaded per scan and detector into archive/<proposal>/${beamline}/<session>/<collection>/<dataset>/scan<NNNN>/; the proposal, session and dataset are per scan.`,
        `${Prefix.Archive}*/${beamline}/*/scan*/*`,
      );
      this.roles[beamline] = role;
      new CfnOutput(scope, `BridgeRoleArn${beamline.replace(/[^A-Za-z0-9]/g, '')}`, {
        value: role.roleArn,
        description: `Assume on the ${beamline} bridge host: its only credential (publishes as ${source})`,
      });
    }
  }
}
