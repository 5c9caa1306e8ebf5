// Imported first by the local runner, before any module that loads the AWS SDK. The SDK prints an 11-line
// NodeVersionSupportWarning on Node 20 when it builds its first client (@aws-sdk/core's
// emitWarningIfUnsupportedVersion): a notice about the SDK's own future releases, which the lockfile pins,
// printed above the banner on every `npm start`. The project is tested on Node 20 and 22 (README), so the
// notice says nothing to a person starting the stack. The variable is the SDK's documented switch; a value
// the user set wins. Lambda runs Node 22, where the SDK prints nothing.
if (!process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
