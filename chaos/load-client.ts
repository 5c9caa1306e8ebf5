import { parseArgs } from 'node:util';
import { openLoop, planSubmission, type Submission, submit } from './submissions';

/**
 * The sending side of `npm run load`, in its own process so that the requests it makes and the stack
 * that answers them do not share one event loop. Prints the submissions as JSON on stdout at the end.
 */
const { values } = parseArgs({
  options: {
    api: { type: 'string' },
    rate: { type: 'string' },
    count: { type: 'string' },
    run: { type: 'string' },
  },
});
const apiKey = process.env.POSTROOM_API_KEY ?? '';
const submissions: Submission[] = [];
await openLoop(Number(values.count), Number(values.rate), (index, dueAt) => {
  const submission = planSubmission(index, values.run ?? 'load', 0);
  submissions.push(submission);
  return submit(values.api ?? '', apiKey, submission, dueAt);
});
process.stdout.write(`${JSON.stringify(submissions)}\n`);
