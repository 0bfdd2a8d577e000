/** Publishes notifications to the archive's alarm topic (SNS), the one the alarms also notify. */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notification, Notifier } from '../core/archive/notifications.js';

export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
  ) {}

  async notify(notification: Notification): Promise<void> {
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: notification.subject, Message: notification.message }));
  }
}
