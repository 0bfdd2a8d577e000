/** Tags the staged objects of a run (ListObjectsV2 under staging/<beamline>/<run>/ + PutObjectTagging), a few at a time. */
import { ListObjectsV2Command, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { RUN_STATE_TAG, type StagingTagger, type TerminalTagValue } from '../core/archive/staging-lifecycle.js';
import { stagingRunPrefix } from '../core/object-keys.js';

export class S3StagingTagger implements StagingTagger {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly concurrency = 8,
  ) {}

  async tagRun(run: { runUid: string; beamline: string }, value: TerminalTagValue): Promise<number> {
    const prefix = stagingRunPrefix(run.beamline, run.runUid);
    let tagged = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => k !== undefined);
      for (let i = 0; i < keys.length; i += this.concurrency) {
        await Promise.all(
          keys.slice(i, i + this.concurrency).map((key) =>
            this.s3.send(
              new PutObjectTaggingCommand({
                Bucket: this.bucket,
                Key: key,
                Tagging: { TagSet: [{ Key: RUN_STATE_TAG, Value: value }] },
              }),
            ),
          ),
        );
      }
      tagged += keys.length;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return tagged;
  }
}
