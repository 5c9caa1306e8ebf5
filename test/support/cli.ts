import { runCli } from '../../cli/main';

/** Runs the `postroom` CLI in process and keeps what it printed. */
export async function runCliCaptured(
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env,
  });
  return { code, out, err };
}
