import { App } from 'aws-cdk-lib';
import { LOCAL_SYNTH_CONTEXT } from '../infra/constructs/webhooks';
import { buildApp } from '../infra/postroom-stack';

/**
 * Synthesizes the app for `rawConfig` into `outdir` as `cdk synth` does (the bundles built by
 * infra/bundling.ts, each asset staged as `asset.<hash>`), with the construct paths in the template so the
 * local stack can tell the functions apart (local/lambda-bundles.ts). Takes the configuration as an argument:
 * it never reads cdk.json. About 5 s, most of it esbuild.
 */
export function synthesizeFunctions(rawConfig: unknown, outdir: string): string {
  const app = new App({
    outdir,
    // The local bundles post webhooks to receivers on loopback (infra/constructs/webhooks.ts).
    context: { 'aws:cdk:enable-path-metadata': true, [LOCAL_SYNTH_CONTEXT]: true },
  });
  buildApp(rawConfig, app);
  app.synth();
  return outdir;
}
