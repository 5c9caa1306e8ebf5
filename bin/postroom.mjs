#!/usr/bin/env node
// The `postroom` command: runs cli/main.ts through tsx's loader, so nothing needs compiling first.
import { register } from 'tsx/esm/api';

// The SDK's notice about Node 20 is for developers of the SDK's users, not for an operator running a command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { createInterface } = await import('node:readline/promises');
/** A yes/no question on the terminal; with no terminal there is no one to ask. */
const confirm =
  process.stdin.isTTY && process.stderr.isTTY
    ? async (question) => {
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          return /^y(es)?$/i.test((await rl.question(question)).trim());
        } finally {
          rl.close();
        }
      }
    : undefined;
/** One line on the terminal that each call overwrites; scripts reading stderr get none. */
const progress = process.stderr.isTTY ? (line) => process.stderr.write(`\r${line}\x1b[K`) : undefined;
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  confirm,
  progress,
});
