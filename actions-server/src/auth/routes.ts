import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody } from '../http/handlers.ts';
import { assertPerson, assertServable, authenticate } from '../http/middleware.ts';
import { loginSchema } from '../tenants/schemas.ts';
import { login } from './login.ts';
import { refreshSession, revokeSession, revokeSessionsOf } from './sessions.ts';
import { changePassword, requestEmailVerification, requestPasswordReset, resetPassword, verifyEmail } from './account.ts';
import { z } from 'zod';
import {
  changePasswordInputSchema,
  forgotInputSchema,
  loginResultSchema,
  refreshInputSchema,
  resetInputSchema,
  sessionsEndedSchema,
  sessionTokensSchema,
  verifyEmailInputSchema,
} from './schemas.ts';
import { statusSchema, type ApiDocs } from '../http/openapi.ts';

// Answers carrying tokens are never cached by anyone in between.
const noStore = (res: import('express').Response) => res.setHeader('Cache-Control', 'no-store');

export function authRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);
  // Guessing is throttled per address and per account; a success gives its point back.
  const byAddressOnly = () => undefined;

  router.post('/api/auth/login', ctx.authThrottle.middleware('login'), async (req, res) => {
    const body = parseBody(loginSchema, req.body);
    if (req.tenant) assertServable(req.tenant);
    const result = await login(ctx, req.tenant ?? null, body.email, body.password, { ip: req.ip, userAgent: req.get('user-agent') });
    noStore(res);
    res.json(result);
  });

  router.post('/api/auth/refresh', ctx.authThrottle.middleware('reset', byAddressOnly), async (req, res) => {
    const body = parseBody(refreshInputSchema, req.body);
    const { sessionId: _sid, ...session } = await refreshSession(ctx, body.refreshToken, req.tenant?.id ?? null);
    noStore(res);
    res.json(session);
  });

  router.post('/api/auth/logout', auth, async (req, res) => {
    const userId = assertPerson(req);
    const sessionId = req.auth!.sessionId;
    const ended = sessionId ? await revokeSession(ctx.pool, sessionId, 'logout') : false;
    ctx.log.info({ userId, sessionId }, 'logged out');
    res.json({ status: 'ok', sessionsEnded: ended ? 1 : 0 });
  });

  router.post('/api/auth/logout-all', auth, async (req, res) => {
    const userId = assertPerson(req);
    res.json({ status: 'ok', sessionsEnded: await revokeSessionsOf(ctx.pool, userId, 'logout_all') });
  });

  router.post('/api/auth/password', auth, async (req, res) => {
    const userId = assertPerson(req);
    const body = parseBody(changePasswordInputSchema, req.body);
    const { revokedSessions } = await changePassword(
      ctx,
      { userId, sessionId: req.auth!.sessionId },
      body.currentPassword,
      body.newPassword,
    );
    res.json({ status: 'ok', otherSessionsEnded: revokedSessions });
  });

  // Same answer whether or not the address has an account (the work happens in a job).
  router.post('/api/auth/forgot', ctx.authThrottle.middleware('forgot'), async (req, res) => {
    const body = parseBody(forgotInputSchema, req.body);
    if (req.tenant) assertServable(req.tenant);
    await requestPasswordReset(ctx, req.tenant?.id ?? null, body.email);
    res.status(202).json({ status: 'accepted', message: 'If an account exists for that address, a reset link is on its way' });
  });

  router.post('/api/auth/reset', ctx.authThrottle.middleware('reset', byAddressOnly), async (req, res) => {
    const body = parseBody(resetInputSchema, req.body);
    await resetPassword(ctx, body.token, body.password);
    res.json({ status: 'ok', message: 'Password changed; every session was signed out' });
  });

  router.post('/api/auth/verify-email', ctx.authThrottle.middleware('reset', byAddressOnly), async (req, res) => {
    const body = parseBody(verifyEmailInputSchema, req.body);
    await verifyEmail(ctx, body.token);
    res.json({ status: 'ok' });
  });

  router.post('/api/auth/verify-email/resend', auth, async (req, res) => {
    const userId = assertPerson(req);
    await requestEmailVerification(ctx.pool, userId, req.auth!.tenantId);
    res.status(202).json({ status: 'accepted' });
  });

  return router;
}

const accepted = statusSchema('accepted');

export function describeAuth(api: ApiDocs): void {
  api.area('Auth', 'Sessions and accounts: sign in, refresh, sign out, passwords, email verification.', (a) => {
    a.route({
      method: 'post',
      path: '/api/auth/login',
      summary: "Sign in on a tenant's host (platform admins on the platform host)",
      auth: 'anonymous',
      body: loginSchema,
      response: loginResultSchema,
      errors: [401, 403, 410],
    });
    a.route({
      method: 'post',
      path: '/api/auth/refresh',
      summary: 'A new access token and the next refresh token (single use; a reused one ends the session)',
      auth: 'anonymous',
      body: refreshInputSchema,
      response: sessionTokensSchema,
      errors: [401, 403, 410],
    });
    a.route({ method: 'post', path: '/api/auth/logout', summary: 'End this session', auth: 'person', response: sessionsEndedSchema });
    a.route({
      method: 'post',
      path: '/api/auth/logout-all',
      summary: 'End every session of the person',
      auth: 'person',
      response: sessionsEndedSchema,
    });
    a.route({
      method: 'post',
      path: '/api/auth/password',
      summary: "Change the password; ends the person's other sessions",
      auth: 'person',
      body: changePasswordInputSchema,
      response: z.object({ status: z.literal('ok'), otherSessionsEnded: z.number().int() }).strict(),
    });
    a.route({
      method: 'post',
      path: '/api/auth/forgot',
      summary: 'Mail a reset link; the same answer whether or not the address has an account',
      auth: 'anonymous',
      body: forgotInputSchema,
      status: 202,
      response: accepted.extend({ message: z.string() }).strict(),
      errors: [403, 410],
    });
    a.route({
      method: 'post',
      path: '/api/auth/reset',
      summary: 'Set a new password with a reset link (single use, 1 hour); ends every session',
      auth: 'anonymous',
      body: resetInputSchema,
      response: statusSchema('ok').extend({ message: z.string() }).strict(),
      errors: [410],
    });
    a.route({
      method: 'post',
      path: '/api/auth/verify-email',
      summary: 'Confirm the address with a verification link (single use, 72 hours)',
      auth: 'anonymous',
      body: verifyEmailInputSchema,
      response: statusSchema('ok').strict(),
      errors: [410],
    });
    a.route({
      method: 'post',
      path: '/api/auth/verify-email/resend',
      summary: 'Mail a new verification link',
      auth: 'person',
      status: 202,
      response: accepted.strict(),
    });
  });
}
