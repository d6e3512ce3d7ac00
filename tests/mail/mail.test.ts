// Mail: a real SMTP server in this process receives what the job runner sends.
// Password reset (the link works exactly once, the same answer for an unknown
// address), invitations mailed, welcome and verification at sign-up, branding
// escaped, and the outbox when no SMTP server is configured.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { makePerson, sessionToken } from '../support/people.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { sendNow } from '../../actions-server/src/mail/service.ts';
import { escapeHtml, renderMail } from '../../actions-server/src/mail/templates.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import type { Logger } from '../../actions-server/src/core/log.ts';

interface Received {
  to: string[];
  raw: string;
  /** Quoted-printable soft breaks and escapes undone, so links and markup read as written. */
  body: string;
}

let smtp: SMTPServer;
const inbox: Received[] = [];
let db: TestDb;
let srv: RunningServer;
let acme: MadeTenant;
const ACME = 'acme.saas.test';

function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        inbox.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, body: decodeQuotedPrintable(raw) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  db = await createTestDb();
  srv = await startTestServer(db, { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: 'robot@saas.test' });
  acme = await makeTenant(db, 'acme');
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
});

/** Runs the due jobs and returns what arrived for `to` since `since` messages. */
async function deliveredTo(to: string, since: number): Promise<Received[]> {
  await runDueJobs(srv.ctx);
  return inbox.slice(since).filter((m) => m.to.includes(to));
}

const linkToken = (mail: Received, path: string): string => {
  const m = new RegExp(`https://[a-z0-9.-]+${path}\\?token=([A-Za-z0-9_-]{43})`).exec(mail.body);
  expect(m, `a ${path} link`).not.toBeNull();
  return m![1]!;
};

describe('password reset', () => {
  it('mails a link that works exactly once; the same answer for an address without an account', async () => {
    const person = await makePerson(db, { tenantId: acme.tenant.id, role: 'member' });
    const before = await sessionToken(srv, person.id, acme.tenant.id, 'member');
    const forgot = (email: string) => request(srv.url, '/api/auth/forgot', { host: ACME, body: { email } });

    const n = inbox.length;
    const known = await forgot(person.email);
    const unknown = await forgot('nobody-here@people.example.com');
    expect(known.status).toBe(202);
    expect({ status: unknown.status, body: unknown.body }).toEqual({ status: known.status, body: known.body });
    expect(await deliveredTo('nobody-here@people.example.com', n)).toEqual([]);
    const [mail] = await deliveredTo(person.email, n);
    expect(mail, 'the reset mail').toBeDefined();
    expect(mail!.raw).toMatch(/Subject: Reset your acme Inc password/);
    expect(mail!.raw).toContain('robot@saas.test');
    const token = linkToken(mail!, '/reset-password');
    expect(mail!.body).toContain(`https://acme.saas.test/reset-password?token=${token}`);

    const reset = (password: string) => request(srv.url, '/api/auth/reset', { host: ACME, body: { token, password } });
    expect((await reset('password1')).status).toBe(400); // weak: the token is not spent
    const ok = await reset('a-fresh-long-secret');
    expect(ok.status, ok.text).toBe(200);
    const again = await reset('another-fresh-secret');
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe('TOKEN_EXPIRED_OR_USED');
    // Every session ended; the new password works.
    expect((await request(srv.url, `/api/tenants/${acme.tenant.id}`, { host: ACME, token: before })).status).toBe(401);
    expect(
      (await request(srv.url, '/api/auth/login', { host: ACME, body: { email: person.email, password: 'a-fresh-long-secret' } })).status,
    ).toBe(200);
  });

  it('refuses an expired reset token with 410', async () => {
    const person = await makePerson(db, { tenantId: acme.tenant.id, role: 'member' });
    const n = inbox.length;
    await request(srv.url, '/api/auth/forgot', { host: ACME, body: { email: person.email } });
    const token = linkToken((await deliveredTo(person.email, n))[0]!, '/reset-password');
    await db.pool.query(`update public.identity_tokens set expires_at = now() - interval '1 second' where identity_id = $1`, [person.id]);
    expect((await request(srv.url, '/api/auth/reset', { host: ACME, body: { token, password: 'a-fresh-long-secret' } })).status).toBe(410);
  });
});

describe('invitations, sign-up and verification', () => {
  it('emails an invitation with the tenant branding, every value escaped', async () => {
    const ownerToken = await sessionToken(srv, acme.ownerId, acme.tenant.id, 'owner');
    const put = await request(srv.url, `/api/tenants/${acme.tenant.id}`, {
      method: 'PUT',
      host: ACME,
      token: ownerToken,
      body: { branding: { appName: '<script>alert(1)</script> & "Co"', primaryColor: '#123abc' } },
    });
    expect(put.status, put.text).toBe(200);
    const n = inbox.length;
    const invite = await request(srv.url, `/api/tenants/${acme.tenant.id}/invitations`, {
      host: ACME,
      token: ownerToken,
      body: { email: 'newbie@people.example.com' },
    });
    expect(invite.status).toBe(201);
    const [mail] = await deliveredTo('newbie@people.example.com', n);
    expect(mail).toBeDefined();
    expect(linkToken(mail!, '/accept-invitation')).toBe(invite.body.token);
    // The HTML part escapes the branding (the plain-text part carries it as text).
    const html = mail!.body.slice(mail!.body.indexOf('Content-Type: text/html'));
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('#123abc');
  });

  it('welcomes a new owner and mails a verification link that works once', async () => {
    const n = inbox.length;
    const signup = await request(srv.url, '/api/tenants/create', {
      body: {
        name: 'Gamma',
        slug: 'gamma',
        ownerEmail: 'founder@gamma.example.com',
        ownerName: 'Founder',
        ownerPassword: 'gamma-founder-secret',
        plan: 'free',
      },
    });
    expect(signup.status, signup.text).toBe(201);
    expect(signup.body.refreshToken).toBeDefined();
    await runDueJobs(srv.ctx); // the verification job, then the mail jobs it may queue
    const mails = await deliveredTo('founder@gamma.example.com', n);
    expect(mails.map((m) => /Subject: ([^\r\n]+)/.exec(m.raw)?.[1]).sort()).toEqual([
      'Confirm your email address for Gamma',
      'Welcome to Gamma',
    ]);
    const token = linkToken(
      mails.find((m) => m.body.includes('/verify-email'))!,
      '/verify-email',
    );
    const verify = () => request(srv.url, '/api/auth/verify-email', { body: { token } });
    expect((await verify()).status).toBe(200);
    expect((await verify()).status).toBe(410);
    const row = await db.pool.query('select email_verified_at from public.identities where email = $1', ['founder@gamma.example.com']);
    expect(row.rows[0].email_verified_at).not.toBeNull();
  });
});

describe('without SMTP_URL', () => {
  it('stores the message in the outbox and says so in one log line', async () => {
    const info = vi.fn();
    const log = { info, warn: vi.fn(), error: vi.fn(), debug: vi.fn() } as unknown as Logger;
    await sendNow(
      { env: { ...srv.ctx.env, SMTP_URL: undefined }, pool: db.pool, log },
      {
        template: 'welcome',
        to: 'outbox@people.example.com',
        tenantId: acme.tenant.id,
        vars: { name: 'O' },
      },
    );
    const row = await db.pool.query('select recipient, subject, html_body from public.outbox where recipient = $1', [
      'outbox@people.example.com',
    ]);
    expect(row.rows).toHaveLength(1);
    expect(info).toHaveBeenCalledWith(expect.objectContaining({ template: 'welcome' }), expect.stringContaining('SMTP_URL is not set'));
  });

  it('renders every template with escaped values and a safe colour and logo', () => {
    const branding = { productName: 'A&B', logoUrl: 'https://cdn.example.com/l.png?a=1&b="2"', primaryColor: '#00ff00' };
    for (const template of ['welcome', 'invitation', 'password_reset', 'email_verification'] as const) {
      const out = renderMail(template, { name: '<b>Eve</b>', link: 'https://x.example/?t="1"', inviter: '<i>', role: 'member' }, branding);
      expect(out.html).not.toMatch(/<b>|<i>|"1"/);
      expect(out.html).toContain(escapeHtml('A&B'));
      expect(out.subject).toContain('A&B');
    }
  });
});
