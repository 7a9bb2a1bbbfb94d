/** The local KMS's audit record of one request (CloudTrail's shape, trimmed), success or failure. */
import type { Ctx } from './core.js';
import type { AwsError } from '../../edge/aws/errors.js';

export function auditRecord(ctx: Ctx | undefined, op: string, requestId: string, err: AwsError | undefined, clock: () => number): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    eventVersion: '1.0',
    eventTime: new Date(ctx?.now ?? clock()).toISOString(),
    eventSource: 'kms.sealbox.local',
    eventName: op,
    requestId,
    awsRegion: ctx?.region ?? null,
    recipientAccountId: ctx?.caller.account ?? null,
    userIdentity: ctx ? { arn: ctx.caller.principal, accountId: ctx.caller.account, accessKeyId: ctx.caller.accessKeyId } : null,
    keyId: ctx?.audit.keyId ?? null,
  };
  if (ctx?.audit.encryptionContext && Object.keys(ctx.audit.encryptionContext).length > 0) rec.encryptionContext = ctx.audit.encryptionContext;
  if (ctx?.audit.params) rec.requestParameters = ctx.audit.params;
  rec.outcome = err ? 'failure' : 'success';
  if (err) {
    rec.errorCode = err.type;
    rec.errorMessage = err.message;
  }
  return rec;
}
