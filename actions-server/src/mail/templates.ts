// The messages the platform sends, each carrying the tenant's branding (its
// name or appName, logo and primary colour). Every value put into HTML is
// escaped; a colour is used only when it is a plain hex colour and a logo only
// when it is an http(s) URL, so branding cannot inject markup or style.
import { z } from 'zod';

export const MAIL_TEMPLATES = ['welcome', 'invitation', 'password_reset', 'email_verification'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export const mailVarsSchema = z
  .object({
    name: z.string().max(200).optional(),
    link: z.string().max(2000).optional(),
    role: z.string().max(50).optional(),
    inviter: z.string().max(254).optional(),
    expiresIn: z.string().max(100).optional(),
  })
  .strict();
export type MailVars = z.infer<typeof mailVarsSchema>;

/** The branding a message is rendered with (the tenant's, or the platform's). */
export interface MailBranding {
  /** The tenant's appName, else its name, else the platform's. */
  productName: string;
  logoUrl?: string | undefined;
  primaryColor?: string | undefined;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const COLOR_RE = /^#[0-9a-f]{6}$/i;
const DEFAULT_COLOR = '#2f6fed';

function safeLogo(url: string | undefined): string | undefined {
  if (!url || url.length > 2000) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Branding read from a tenant row (branding is free-form JSON: every field is checked). */
export function brandingOf(tenant: { name: string; branding: Record<string, unknown> } | null, platformName: string): MailBranding {
  const b = tenant?.branding ?? {};
  // Control characters (line breaks in a subject) are flattened to spaces.
  const str = (v: unknown): string | undefined =>
    // eslint-disable-next-line no-control-regex -- matching control characters is the point: they are flattened to spaces
    typeof v === 'string' && v.trim() !== '' ? v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim() : undefined;
  const color = str(b['primaryColor']);
  return {
    productName: (str(b['appName']) ?? tenant?.name ?? platformName).slice(0, 100),
    logoUrl: safeLogo(str(b['logoUrl'])),
    primaryColor: color && COLOR_RE.test(color) ? color : undefined,
  };
}

interface Content {
  subject: string;
  greeting: string;
  lines: string[];
  action?: { label: string; link: string };
  footer: string;
}

function contentOf(template: MailTemplate, v: MailVars, product: string): Content {
  const greeting = v.name ? `Hello ${v.name},` : 'Hello,';
  switch (template) {
    case 'welcome':
      return {
        subject: `Welcome to ${product}`,
        greeting,
        lines: [`Your ${product} account is ready.`],
        ...(v.link ? { action: { label: `Open ${product}`, link: v.link } } : {}),
        footer: 'You receive this message because an account was created with this address.',
      };
    case 'invitation':
      return {
        subject: `You are invited to join ${product}`,
        greeting: 'Hello,',
        lines: [
          `${v.inviter ?? 'Someone'} invited you to join ${product} as ${v.role ?? 'member'}.`,
          `The invitation expires in ${v.expiresIn ?? 'a few days'}.`,
        ],
        action: { label: 'Accept the invitation', link: v.link ?? '' },
        footer: 'If you did not expect this invitation, ignore this message.',
      };
    case 'password_reset':
      return {
        subject: `Reset your ${product} password`,
        greeting,
        lines: ['Someone asked to reset the password of your account.', `The link works once, within ${v.expiresIn ?? '1 hour'}.`],
        action: { label: 'Choose a new password', link: v.link ?? '' },
        footer: 'If you did not ask for this, ignore this message: your password stays as it is.',
      };
    case 'email_verification':
      return {
        subject: `Confirm your email address for ${product}`,
        greeting,
        lines: ['Please confirm that this address is yours.'],
        action: { label: 'Confirm my address', link: v.link ?? '' },
        footer: 'If you did not create an account, ignore this message.',
      };
    default: {
      const never: never = template;
      throw new Error(`unknown mail template ${String(never)}`);
    }
  }
}

export function renderMail(template: MailTemplate, vars: MailVars, branding: MailBranding): RenderedMail {
  const c = contentOf(template, vars, branding.productName);
  const color = branding.primaryColor ?? DEFAULT_COLOR;
  const text = [
    c.greeting,
    '',
    ...c.lines,
    ...(c.action ? ['', `${c.action.label}: ${c.action.link}`] : []),
    '',
    c.footer,
    '',
    `— ${branding.productName}`,
  ].join('\n');
  const e = escapeHtml;
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;color:#222">',
    branding.logoUrl ? `<p><img src="${e(branding.logoUrl)}" alt="${e(branding.productName)}" height="40"></p>` : '',
    `<h2 style="color:${color}">${e(branding.productName)}</h2>`,
    `<p>${e(c.greeting)}</p>`,
    ...c.lines.map((l) => `<p>${e(l)}</p>`),
    c.action
      ? `<p><a href="${e(c.action.link)}" style="background:${color};color:#fff;padding:10px 16px;text-decoration:none;border-radius:4px">${e(c.action.label)}</a></p><p style="font-size:12px">${e(c.action.link)}</p>`
      : '',
    `<p style="font-size:12px;color:#666">${e(c.footer)}</p>`,
    '</body></html>',
  ].join('');
  return { subject: c.subject, text, html };
}
