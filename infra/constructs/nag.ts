import { Stack, Validations } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges the cdk-nag finding AwsSolutions-IAM5 raised by a policy statement on the objects
 * `<bucket ARN>/<prefix>*`, and only that finding.
 *
 * cdk-nag names the finding after the resolved resource. For a bucket of another stack that is an
 * export name (`BeamlineArchiveStorage:ExportsOutputFnGetAtt…`) which exists only once CDK has
 * resolved cross-stack references during synthesis, so the acknowledgment is recorded at that point
 * (a validation hook, which runs after reference resolution and before the cdk-nag plugin), with
 * the same flattening cdk-nag applies.
 */
export function acknowledgeObjectPrefixWildcard(
  policy: IConstruct,
  bucket: IBucket,
  prefix: string,
  reason: string,
  pattern = `${prefix}*`,
): void {
  const objects = bucket.arnForObjects(pattern);
  policy.node.addValidation({
    validate: () => {
      const resource = flattenCfnReference(Stack.of(policy).resolve(objects));
      Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
      return [];
    },
  });
}
