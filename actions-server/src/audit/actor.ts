// Who is acting, as the audit triggers record it: transports fill ActorInfo
// from the verified request, db/tx.ts sets it for the transaction.
import type { Request } from 'express';
import type { ActorInfo } from '../db/tx.ts';

/** The request's user (from the verified token, if any) or API key, address and user agent. */
export function requestActor(req: Request): ActorInfo {
  return {
    userId: req.auth?.userId,
    ...(req.auth?.apiKeyId ? { actor: 'api_key' } : {}),
    ip: req.ip,
    userAgent: req.get('user-agent'),
  };
}
