import { Stack } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface FirewallProps {
  /** The API stage the web ACL protects. */
  readonly stage: Stage;
  /**
   * Requests one client IP may make in any five minutes before it is blocked (`api.waf.requestsPerFiveMinutes`).
   * WAF's minimum is 10.
   */
  readonly requestsPerFiveMinutes: number;
}

/**
 * An AWS WAF web ACL in front of the API with one rule: a rate limit per client IP, which stops a single
 * source from flooding a form (and the recipients' inboxes) before the request reaches the send function.
 * Opt-in (`api.waf.enabled`) because it costs money whether or not it blocks anything: about USD 5 a month
 * per web ACL, USD 1 a month per rule and USD 0.60 per million requests inspected
 * (https://aws.amazon.com/waf/pricing/). The AWS managed rule groups would add USD 1 a month each and are
 * left out on purpose; the send function validates every request itself.
 */
export class Firewall extends Construct {
  static readonly RATE_RULE_NAME = 'RateLimitPerIp';

  readonly webAcl: CfnWebACL;

  constructor(scope: Construct, id: string, props: FirewallProps) {
    super(scope, id);
    const metricPrefix = Stack.of(this).stackName;

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      // REGIONAL: a REST API stage, not a CloudFront distribution.
      scope: 'REGIONAL',
      description: 'Postroom API: rate limit per client IP',
      defaultAction: { allow: {} },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: `${metricPrefix}-WebAcl`,
        sampledRequestsEnabled: true,
      },
      // A blocked client gets the API's error shape (RFC 9457) with 429, not WAF's bare 403.
      customResponseBodies: {
        RateLimited: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            type: 'about:blank',
            title: 'Too Many Requests',
            status: 429,
            detail: 'Too many requests from this address. Try again in a few minutes.',
          }),
        },
      },
      rules: [
        {
          name: Firewall.RATE_RULE_NAME,
          priority: 0,
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'RateLimited',
                responseHeaders: [{ name: 'retry-after', value: '300' }],
              },
            },
          },
          statement: {
            rateBasedStatement: {
              limit: props.requestsPerFiveMinutes,
              evaluationWindowSec: 300,
              aggregateKeyType: 'IP',
            },
          },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            metricName: `${metricPrefix}-${Firewall.RATE_RULE_NAME}`,
            sampledRequestsEnabled: true,
          },
        },
      ],
    });

    new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
