// Where a rendered message goes: the SMTP server of SMTP_URL (nodemailer), or,
// without one, the `outbox` table with a log line saying so, so development
// needs no mail server. One transport per process and URL.
import nodemailer, { type Transporter } from 'nodemailer';
import type { AppContext } from '../core/context.ts';
import type { RenderedMail, MailTemplate } from './templates.ts';

export interface OutgoingMail extends RenderedMail {
  template: MailTemplate;
  to: string;
  /** Display name of the sender (the tenant's product name). */
  fromName: string;
  tenantId: string | null;
}

const transports = new Map<string, Transporter>();

function transportFor(url: string): Transporter {
  let t = transports.get(url);
  if (!t) {
    t = nodemailer.createTransport(url);
    transports.set(url, t);
  }
  return t;
}

export function senderAddress(ctx: Pick<AppContext, 'env'>): string {
  return ctx.env.MAIL_FROM ?? `no-reply@${ctx.env.BASE_DOMAIN}`;
}

/** Sends (or stores) one message. Throws when the SMTP server refuses it, so the job is retried. */
export async function deliver(ctx: Pick<AppContext, 'env' | 'pool' | 'log'>, mail: OutgoingMail): Promise<void> {
  const url = ctx.env.SMTP_URL;
  if (!url) {
    const { rows } = await ctx.pool.query<{ id: string }>(
      `insert into public.outbox (template, recipient, subject, text_body, html_body, context_tenant_id)
       values ($1, $2, $3, $4, $5, $6) returning id`,
      [mail.template, mail.to, mail.subject, mail.text, mail.html, mail.tenantId],
    );
    ctx.log.info(
      { outboxId: rows[0]!.id, template: mail.template, tenantId: mail.tenantId },
      'SMTP_URL is not set: message stored in the outbox table',
    );
    return;
  }
  await transportFor(url).sendMail({
    from: { name: mail.fromName, address: senderAddress(ctx) },
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
  });
  ctx.log.info({ template: mail.template, tenantId: mail.tenantId }, 'message sent');
}
