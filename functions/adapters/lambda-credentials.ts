import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles only (infra/bundling.ts aliases
 * it): each SDK client's runtime config imports that package's `defaultProvider`, whose chain (SSO, ini
 * files, web identity, ECS, IMDS) brings ~100 KB and nested STS/SSO clients to every cold start. Lambda
 * gives a function its execution role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, which the chain's first link (fromEnv) reads; the others are never reached there.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}): ReturnType<typeof fromEnv> =>
  fromEnv(init);
