import type { Context } from 'aws-lambda';

/**
 * The Lambda context of one relay invocation, as the runtime hands it to the handler and Powertools adds it
 * to every log line: the names a deployed stack gives the function and its log group.
 */
export const RELAY_CONTEXT: Context = {
  functionName: 'Postroom-RelayFunction8F3A2B1C-AbCdEfGhIjKl',
  functionVersion: '$LATEST',
  invokedFunctionArn:
    'arn:aws:lambda:us-east-1:123456789012:function:Postroom-RelayFunction8F3A2B1C-AbCdEfGhIjKl',
  memoryLimitInMB: '512',
  awsRequestId: '6bc28136-8f3a-4365-b021-0ce6b2e64ab0',
  callbackWaitsForEmptyEventLoop: true,
  logGroupName: '/aws/lambda/Postroom-RelayFunction8F3A2B1C-AbCdEfGhIjKl',
  logStreamName: '2026/12/03/[$LATEST]0123456789abcdef0123456789abcdef',
  getRemainingTimeInMillis: () => 1000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};
