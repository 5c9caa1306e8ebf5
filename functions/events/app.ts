import middy from '@middy/core';
import type { SNSEvent } from 'aws-lambda';
import { type DeliveryEventDeps, handleDeliveryNotifications } from '../core/events/delivery-events';

/**
 * The events function: SES event notifications arrive through the configuration set's SNS topic, one JSON
 * document per record's `Sns.Message`. A thin adapter to the core, which records each on its message.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
 */
export function createEventsHandler(deps: DeliveryEventDeps) {
  return middy<SNSEvent, void>().handler(async (event) => {
    await handleDeliveryNotifications(
      event.Records.map((record) => record.Sns.Message),
      deps,
    );
  });
}
