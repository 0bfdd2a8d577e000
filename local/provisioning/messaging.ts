/** EventBridge buses and rules, SQS queues and SNS topics of the templates, created in the emulator (local/provision.ts). */
import { CreateEventBusCommand, PutRuleCommand, PutTargetsCommand, type Target } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { isRecord } from '../../src/core/guards.js';
import { num, str, type Created, type ProvisionContext, type ProvisionedQueue } from './resources.js';

/** An SNS topic (KMS encryption is not applied locally: the emulator does not check keys). */
export async function createTopic(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const name = ctx.physicalName('topic', stackName, logicalId, props.TopicName);
  const out = await ctx.opts.clients.sns!.send(
    new CreateTopicCommand({
      Name: name,
      ...(props.DisplayName ? { Attributes: { DisplayName: str(props.DisplayName)! } } : {}),
    }),
  );
  const arn = out.TopicArn ?? `arn:aws:sns:${ctx.opts.region}:${ctx.account()}:${name}`;
  ctx.learnAccount(arn);
  const subscriptions = ((props.Subscription ?? []) as Array<{ Protocol?: string; Endpoint?: string }>).map((sub) => ({
    protocol: str(sub.Protocol) ?? '',
    endpoint: str(sub.Endpoint) ?? '',
  }));
  for (const sub of subscriptions)
    await ctx.opts.clients.sns!.send(new SubscribeCommand({ TopicArn: arn, Protocol: sub.protocol, Endpoint: sub.endpoint }));
  ctx.result.topics[logicalId] = { stackName, logicalId, name, arn, subscriptions };
  return { ref: arn, attrs: { TopicArn: arn, TopicName: name } };
}

export async function createSubscription(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const topicArn = str(props.TopicArn) ?? '';
  const protocol = str(props.Protocol) ?? '';
  const endpoint = str(props.Endpoint) ?? '';
  const out = await ctx.opts.clients.sns!.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: protocol, Endpoint: endpoint }));
  const topic = Object.values(ctx.result.topics).find((t) => t.arn === topicArn);
  topic?.subscriptions.push({ protocol, endpoint });
  return { ref: out.SubscriptionArn ?? `${topicArn}:${logicalId}`, attrs: {} };
}

export async function createEventBus(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const name = ctx.physicalName('eventBus', stackName, logicalId, props.Name);
  const out = await ctx.opts.clients.events.send(
    new CreateEventBusCommand({
      Name: name,
      ...(props.Description ? { Description: str(props.Description) } : {}),
    }),
  );
  const arn = out.EventBusArn ?? `arn:aws:events:${ctx.opts.region}:${ctx.account()}:event-bus/${name}`;
  ctx.learnAccount(arn);
  ctx.result.eventBuses[logicalId] = { stackName, logicalId, name, arn };
  return { ref: name, attrs: { Arn: arn, Name: name, Policy: '' } };
}

export async function createQueue(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
  let name = ctx.physicalName(
    'queue',
    stackName,
    logicalId,
    typeof props.QueueName === 'string' ? props.QueueName.replace(/\.fifo$/, '') : undefined,
  );
  if (fifo) name = `${name.slice(0, 75)}.fifo`;
  const attributes: Partial<Record<QueueAttributeName, string>> = {};
  for (const key of [
    'VisibilityTimeout',
    'MessageRetentionPeriod',
    'DelaySeconds',
    'MaximumMessageSize',
    'ReceiveMessageWaitTimeSeconds',
    'ContentBasedDeduplication',
    'DeduplicationScope',
    'FifoThroughputLimit',
    'SqsManagedSseEnabled',
  ] as const) {
    if (props[key] !== undefined) attributes[key] = String(props[key]);
  }
  if (fifo) attributes.FifoQueue = 'true';
  const redrive = props.RedrivePolicy as { deadLetterTargetArn?: string; maxReceiveCount?: unknown } | undefined;
  let deadLetter: ProvisionedQueue['deadLetter'];
  if (redrive?.deadLetterTargetArn) {
    const maxReceiveCount = num(redrive.maxReceiveCount) ?? 10;
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: redrive.deadLetterTargetArn, maxReceiveCount });
    const dlq = Object.values(ctx.result.queues).find((q) => q.arn === redrive.deadLetterTargetArn);
    deadLetter = { arn: redrive.deadLetterTargetArn, url: dlq?.url ?? '', logicalId: dlq?.logicalId ?? '', maxReceiveCount };
  }
  const { sqs } = ctx.opts.clients;
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = out.QueueUrl;
  if (!url) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const attrs =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }))).Attributes ?? {};
  const arn = attrs.QueueArn ?? `arn:aws:sqs:${ctx.opts.region}:${ctx.account()}:${name}`;
  ctx.learnAccount(arn);
  ctx.result.queues[logicalId] = {
    stackName,
    logicalId,
    name,
    url,
    arn,
    visibilityTimeoutSeconds: Number(attrs.VisibilityTimeout ?? 30),
    ...(deadLetter ? { deadLetter } : {}),
  };
  return { ref: url, attrs: { Arn: arn, QueueName: name, QueueUrl: url } };
}

export async function createRule(
  ctx: ProvisionContext,
  stackName: string,
  logicalId: string,
  props: Record<string, unknown>,
): Promise<Created> {
  const name = ctx.physicalName('rule', stackName, logicalId, props.Name);
  const busRef = str(props.EventBusName) ?? 'default';
  // EventBusName may be a name or an ARN; a bus ARN ends with event-bus/<name>.
  const eventBusName = busRef.startsWith('arn:') ? busRef.slice(busRef.lastIndexOf('/') + 1) : busRef;
  const eventPattern = isRecord(props.EventPattern)
    ? props.EventPattern
    : typeof props.EventPattern === 'string'
      ? (JSON.parse(props.EventPattern) as Record<string, unknown>)
      : undefined;
  const scheduleExpression = str(props.ScheduleExpression);
  const state = str(props.State) ?? 'ENABLED';
  const { events } = ctx.opts.clients;
  const out = await events.send(
    new PutRuleCommand({
      Name: name,
      EventBusName: eventBusName,
      State: state as 'ENABLED',
      ...(eventPattern ? { EventPattern: JSON.stringify(eventPattern) } : {}),
      ...(scheduleExpression ? { ScheduleExpression: scheduleExpression } : {}),
      ...(props.Description ? { Description: str(props.Description) } : {}),
    }),
  );
  const arn = out.RuleArn ?? `arn:aws:events:${ctx.opts.region}:${ctx.account()}:rule/${eventBusName}/${name}`;
  const declared = (props.Targets ?? []) as Array<Record<string, unknown>>;
  // The emulator runs no schedules (and cannot deliver to Lambda): a scheduled rule's function targets go to the runner.
  const scheduled = scheduleExpression ? declared.filter((t) => String(t.Arn ?? '').includes(':lambda:')) : [];
  for (const t of scheduled) {
    ctx.result.schedules.push({
      stackName,
      logicalId,
      ruleName: name,
      scheduleExpression: scheduleExpression!,
      functionArn: str(t.Arn) ?? '',
      state,
    });
  }
  const targets = declared
    .filter((t) => !scheduled.includes(t))
    .map((t): Target => ({
      Id: str(t.Id),
      Arn: str(t.Arn),
      ...(t.Input !== undefined ? { Input: str(t.Input) } : {}),
      ...(t.InputPath !== undefined ? { InputPath: str(t.InputPath) } : {}),
      ...(t.InputTransformer ? { InputTransformer: t.InputTransformer as Target['InputTransformer'] } : {}),
      ...(t.SqsParameters ? { SqsParameters: t.SqsParameters as Target['SqsParameters'] } : {}),
      ...(t.RetryPolicy ? { RetryPolicy: t.RetryPolicy as Target['RetryPolicy'] } : {}),
      ...(t.DeadLetterConfig ? { DeadLetterConfig: t.DeadLetterConfig as Target['DeadLetterConfig'] } : {}),
    }));
  if (targets.length) {
    const put = await events.send(new PutTargetsCommand({ Rule: name, EventBusName: eventBusName, Targets: targets }));
    if (put.FailedEntryCount) throw new Error(`PutTargets ${name}: ${JSON.stringify(put.FailedEntries)}`);
  }
  ctx.result.rules[logicalId] = {
    stackName,
    logicalId,
    name,
    arn,
    eventBusName,
    state,
    ...(eventPattern ? { eventPattern } : {}),
    ...(scheduleExpression ? { scheduleExpression } : {}),
    targets: targets.map((t) => {
      const q = ctx.queueByArn(t.Arn ?? '');
      return { id: t.Id ?? '', arn: t.Arn ?? '', ...(q ? { queueLogicalId: q.logicalId, queueUrl: q.url } : {}) };
    }),
  };
  return { ref: name, attrs: { Arn: arn } };
}
