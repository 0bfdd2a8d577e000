/**
 * How the DynamoDB adapters recognise a refused condition. The SDK's exception classes are checked
 * by `instanceof` and by name: a client bundled twice (or an emulator's error passed through
 * another SDK copy) gives an error of the same name but another class.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';

/** A single-item write refused by its ConditionExpression. */
export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException || (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException'
  );
}

/** A TransactWriteItems call cancelled as a whole (one of its conditions failed, or a conflict). */
export function isTransactionCancelled(error: unknown): error is TransactionCanceledException {
  return error instanceof TransactionCanceledException || (error as { name?: string } | undefined)?.name === 'TransactionCanceledException';
}

/**
 * The cancellation reason of each item of a cancelled transaction (`ConditionalCheckFailed`, `None` …),
 * or undefined when the error is not a cancelled transaction.
 */
export function transactionReasons(error: unknown): string[] | undefined {
  if (!isTransactionCancelled(error)) return undefined;
  const reasons = error.CancellationReasons;
  if (reasons) return reasons.map((r) => r.Code ?? 'None');
  // Emulators may only give the reasons in the message: "[ConditionalCheckFailed, None]".
  const match = /\[([^\]]*)\]/.exec(error.message);
  return match ? match[1]!.split(',').map((s) => s.trim()) : ['Unknown'];
}
