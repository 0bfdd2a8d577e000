/**
 * What the bridge tests share: a bucket, a custom bus and a rule delivering every bridge event to
 * an SQS queue the test reads; reading that queue; and the values a publisher dumped to an npz.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateEventBusCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { venvPython } from '../../local/services.js';
import { run } from '../../local/pipeline.js';
import type { AwsClients } from '../../src/adapters/aws-clients.js';
import type { BusEvent } from '../../src/core/contract/validators.js';

/** Creates the bucket and the bus, and a queue receiving every event of a bridge (source beamline-archive.bridge.<beamline>); returns the queue's URL. */
export async function captureBridgeEvents(clients: AwsClients, names: { bucket: string; bus: string; queue: string }): Promise<string> {
  await clients.s3.send(new CreateBucketCommand({ Bucket: names.bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  await clients.events.send(new CreateEventBusCommand({ Name: names.bus }));
  const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: names.queue }))).QueueUrl!;
  const attrs = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  await clients.events.send(
    new PutRuleCommand({
      Name: 'capture',
      EventBusName: names.bus,
      EventPattern: JSON.stringify({ source: [{ prefix: 'beamline-archive.bridge' }] }),
    }),
  );
  await clients.events.send(
    new PutTargetsCommand({ Rule: 'capture', EventBusName: names.bus, Targets: [{ Id: 'q', Arn: attrs.Attributes!.QueueArn! }] }),
  );
  return queueUrl;
}

/**
 * Moves the queue's events into `into` (received, then deleted), long-polling (1 s) until
 * `quietPolls` receives in a row were empty: EventBridge delivers to SQS asynchronously on AWS and
 * LocalStack (moto delivers inside PutEvents), so an empty queue right after PutEvents means nothing.
 */
export async function drainEvents(clients: AwsClients, queueUrl: string, into: BusEvent[] = [], quietPolls = 2): Promise<BusEvent[]> {
  for (let empty = 0; ;) {
    const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) {
      if (++empty >= Math.max(1, quietPolls)) return into;
      continue;
    }
    empty = 0;
    for (const m of messages) into.push(JSON.parse(m.Body!) as BusEvent);
    await clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
}

/** Every channel's published values as raw bytes, read from the publisher's npz by numpy (keys with `__` for `:`). */
export async function dumpedBytes(npz: string): Promise<Map<string, Buffer>> {
  const script =
    'import sys,json,base64,numpy as np\nd=np.load(sys.argv[1])\n' +
    'print(json.dumps({k.replace("__",":"): base64.b64encode(np.ascontiguousarray(d[k]).tobytes()).decode() for k in d.files}))';
  const out = await run(venvPython, ['-c', script, npz]);
  if (out.code !== 0) throw new Error(`reading ${npz}: ${out.stderr.slice(-2000)}`);
  return new Map(Object.entries(JSON.parse(out.stdout) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}
