import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule, Schedule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DetailType, EventSource } from '../../src/core/contract/detail-types.js';
import { Prefix } from '../../src/core/object-keys.js';
import { METRICS_NAMESPACE, MetricName } from '../../src/adapters/metrics.js';
import { createArchiveFunction } from './archive-function.js';
import { acknowledgeObjectPrefixWildcard } from './nag.js';
import { QueueFedFunction } from './queue-fed-function.js';
import { beamlinesFromContext } from './bridge-roles.js';

/** Events the notifier turns into messages for people (and the heartbeats it counts). */
export const NOTIFIER_PATTERN = {
  source: Match.anyOf(Match.prefix(EventSource.Bridge), EventSource.ScanWriter, EventSource.RunRecorder, EventSource.RunWatchdog),
  detailType: [DetailType.RunFailed, DetailType.RunStalled, DetailType.BridgeHeartbeat],
};

export interface MonitoringSettings {
  /** E-mail addresses subscribed to the alarm topic (context `alarmEmail`, comma-separated). */
  readonly alarmEmails: string[];
  /** How often the watchdog runs (context `watchdogRateMinutes`). @default 15 */
  readonly watchdogRateMinutes: number;
  /** STALLED this long after RunStop (context `stallAfterStopMinutes`). @default 120 */
  readonly stallAfterStopMinutes: number;
  /** STALLED this long after the start without a RunStop (context `stallAfterStartHours`). @default 24 */
  readonly stallAfterStartHours: number;
  /** No Bridge Heartbeat for this long raises the bridge alarm (context `heartbeatAlarmMinutes`). @default 5 */
  readonly heartbeatAlarmMinutes: number;
  /** Beamlines with a bridge (context `beamlines`): one heartbeat alarm each, besides the one for any bridge. @default none */
  readonly beamlines?: readonly string[];
}

export const DEFAULT_MONITORING: Omit<MonitoringSettings, 'alarmEmails'> = {
  watchdogRateMinutes: 15,
  stallAfterStopMinutes: 120,
  stallAfterStartHours: 24,
  heartbeatAlarmMinutes: 5,
};

/** Monitoring settings from the CDK context (`cdk deploy -c alarmEmail=ops@example.org -c watchdogRateMinutes=5`). */
export function monitoringFromContext(scope: Construct): MonitoringSettings {
  const number = (key: string, fallback: number): number => {
    const value: unknown = scope.node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return fallback;
    if (!/^\d+$/.test(String(value).trim()) || Number(value) < 1)
      throw new Error(`context ${key} must be a positive integer, got ${JSON.stringify(value)}`);
    return Number(String(value).trim());
  };
  const emails = String(scope.node.tryGetContext('alarmEmail') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const e of emails)
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) throw new Error(`context alarmEmail: ${JSON.stringify(e)} is not an e-mail address`);
  return {
    alarmEmails: emails,
    watchdogRateMinutes: number('watchdogRateMinutes', DEFAULT_MONITORING.watchdogRateMinutes),
    stallAfterStopMinutes: number('stallAfterStopMinutes', DEFAULT_MONITORING.stallAfterStopMinutes),
    stallAfterStartHours: number('stallAfterStartHours', DEFAULT_MONITORING.stallAfterStartHours),
    heartbeatAlarmMinutes: number('heartbeatAlarmMinutes', DEFAULT_MONITORING.heartbeatAlarmMinutes),
    beamlines: beamlinesFromContext(scope),
  };
}

export interface MonitoringProps {
  readonly bucket: IBucket;
  readonly table: ITable;
  readonly eventBus: IEventBus;
  readonly projectRoot: string;
  readonly ruleDeadLetterQueue: IQueue;
  readonly settings: MonitoringSettings;
  readonly logLevel?: string;
}

/**
 * People are told (docs/operations.md): the alarm topic (SNS, KMS-encrypted, e-mail subscriptions
 * from the context), the notifier (Run Failed / Run Stalled → one message each; Bridge Heartbeat →
 * metrics), the run-watchdog on its schedule, and the alarms of what the functions measure:
 * stalled runs, a silent bridge, a watchdog that fails. `notifyOnAlarms` gives every alarm of a
 * stack the topic as its action (the DLQ alarms included).
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly notifier: QueueFedFunction;
  readonly watchdog: NodejsFunction;
  readonly schedule: Rule;
  readonly stalledAlarm: Alarm;
  readonly heartbeatAlarm: Alarm;
  /** No heartbeat from one beamline's bridge (its source, beamline-archive.bridge.<beamline>), by beamline. */
  readonly beamlineHeartbeatAlarms: Record<string, Alarm> = {};

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { bucket, table, eventBus, settings } = props;
    const logLevel = props.logLevel ?? 'INFO';

    const key = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the beamline-archive alarm topic; CloudWatch alarms may publish through it',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to an encrypted topic only when its key lets them.
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'beamline-archive alarms', masterKey: key, enforceSSL: true });
    for (const email of settings.alarmEmails) this.topic.addSubscription(new EmailSubscription(email));

    this.notifier = new QueueFedFunction(this, 'Notifier', {
      name: 'notifier',
      projectRoot: props.projectRoot,
      memorySize: 256,
      timeout: Duration.seconds(30),
      batchSize: 10,
      environment: { ALARM_TOPIC_ARN: this.topic.topicArn, LOG_LEVEL: logLevel },
    });
    // Publish on the topic, through its key: named actions (grantPublish would add kms:GenerateDataKey*).
    this.notifier.role.addToPolicy(
      new PolicyStatement({ sid: 'NotifyPeople', effect: Effect.ALLOW, actions: ['sns:Publish'], resources: [this.topic.topicArn] }),
    );
    this.notifier.role.addToPolicy(
      new PolicyStatement({
        sid: 'EncryptNotifications',
        effect: Effect.ALLOW,
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
      }),
    );
    new Rule(this, 'NotifierRule', {
      eventBus,
      description: 'Run Failed, Run Stalled (to people) and Bridge Heartbeat (metrics) to the notifier queue',
      eventPattern: NOTIFIER_PATTERN,
      targets: [
        new SqsQueue(this.notifier.queue, {
          deadLetterQueue: props.ruleDeadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    ({ function: this.watchdog } = createArchiveFunction(this, {
      name: 'run-watchdog',
      idPrefix: 'Watchdog',
      projectRoot: props.projectRoot,
      memorySize: 512,
      timeout: Duration.minutes(5),
      environment: {
        TABLE_NAME: table.tableName,
        BUCKET_NAME: bucket.bucketName,
        EVENT_BUS_NAME: eventBus.eventBusName,
        LOG_LEVEL: logLevel,
        STALL_AFTER_STOP_SECONDS: String(settings.stallAfterStopMinutes * 60),
        STALL_AFTER_START_SECONDS: String(settings.stallAfterStartHours * 3600),
      },
    }));
    const watchdogRole = this.watchdog.role!;
    watchdogRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'StallRuns',
        effect: Effect.ALLOW,
        actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn, `${table.tableArn}/index/gsi4`],
      }),
    );
    watchdogRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'AnnounceStalledRuns',
        effect: Effect.ALLOW,
        actions: ['events:PutEvents'],
        resources: [eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': EventSource.RunWatchdog } },
      }),
    );
    watchdogRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'TagStagedObjects',
        effect: Effect.ALLOW,
        actions: ['s3:PutObjectTagging'],
        resources: [bucket.arnForObjects(`${Prefix.Staging}*`)],
      }),
    );
    watchdogRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ListStagedObjects',
        effect: Effect.ALLOW,
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${Prefix.Staging}*`] } },
      }),
    );
    const watchdogPolicy = watchdogRole.node.tryFindChild('DefaultPolicy');
    if (watchdogPolicy) {
      acknowledgeObjectPrefixWildcard(
        watchdogPolicy,
        bucket,
        Prefix.Staging,
        'The watchdog tags the staged objects of the runs it marks STALLED (staging/<run>/...); tagging only, confined to staging/.',
      );
    }
    this.schedule = new Rule(this, 'WatchdogSchedule', {
      description: 'Runs the run-watchdog',
      schedule: Schedule.rate(Duration.minutes(settings.watchdogRateMinutes)),
      targets: [new LambdaFunction(this.watchdog, { retryAttempts: 2 })],
    });

    this.stalledAlarm = new Alarm(this, 'RunsStalledAlarm', {
      alarmDescription: 'The run-watchdog marked runs STALLED (beamline-archive runs list --state stalled; docs/operations.md)',
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: MetricName.RunsStalled,
        dimensionsMap: { service: 'run-watchdog' },
        statistic: 'Sum',
        period: Duration.minutes(settings.watchdogRateMinutes),
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.heartbeatAlarm = new Alarm(this, 'BridgeHeartbeatAlarm', {
      alarmDescription: `No Bridge Heartbeat for ${settings.heartbeatAlarmMinutes} min: the edge bridge is down or cannot reach AWS (docs/operations.md)`,
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: MetricName.BridgeHeartbeats,
        dimensionsMap: { service: 'notifier' },
        statistic: 'SampleCount',
        period: Duration.minutes(settings.heartbeatAlarmMinutes),
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No heartbeat at all is the case this alarm exists for.
      treatMissingData: TreatMissingData.BREACHING,
    });
    // Per beamline: the notifier counts each heartbeat again with the beamline of its source (IAM-bound to the bridge's role).
    for (const beamline of settings.beamlines ?? []) {
      this.beamlineHeartbeatAlarms[beamline] = new Alarm(this, `BridgeHeartbeatAlarm-${beamline}`, {
        alarmDescription: `No Bridge Heartbeat from the ${beamline} bridge for ${settings.heartbeatAlarmMinutes} min: it is down, cannot reach AWS, or runs without its beamline's role (docs/operations.md, docs/access.md "The edge")`,
        metric: new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: MetricName.BridgeHeartbeats,
          dimensionsMap: { service: 'notifier', beamline },
          statistic: 'SampleCount',
          period: Duration.minutes(settings.heartbeatAlarmMinutes),
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.BREACHING,
      });
    }
    new Alarm(this, 'WatchdogErrorsAlarm', {
      alarmDescription: 'The run-watchdog itself fails: stalled runs are not being found',
      metric: this.watchdog.metricErrors({ period: Duration.minutes(settings.watchdogRateMinutes), statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  private readonly notified = new Set<Alarm>();

  /**
   * Every alarm of the stack (DLQ depth, stalled runs, bridge heartbeat, watchdog errors) notifies
   * the topic in ALARM and again when it is OK. Call once every alarm exists; returns how many.
   */
  notifyOnAlarms(): number {
    const action = new SnsAction(this.topic);
    const alarms = Stack.of(this)
      .node.findAll()
      .filter((c): c is Alarm => c instanceof Alarm);
    for (const alarm of alarms) {
      if (this.notified.has(alarm)) continue;
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      this.notified.add(alarm);
    }
    return alarms.length;
  }
}
