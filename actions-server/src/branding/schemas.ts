// Edge validation of a tenant's branding: each field checked on its own, so a
// bad value answers 400 naming it (branding.<field>). null removes a field.
import { z } from 'zod';
import { MAX_CUSTOM_CSS_LENGTH } from './css.ts';

const colour = z.string().regex(/^#(?:[\da-f]{3,4}|[\da-f]{6}|[\da-f]{8})$/i, 'must be a hex colour such as #1a2b3c');

const httpsUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'https:' && !url.username && !url.password;
    } catch {
      return false;
    }
  }, 'must be an https:// URL');

const FAMILY_QUOTED = /^(?:"[\w -]{1,64}"|'[\w -]{1,64}')$/;
const FAMILY_BARE = /^[a-z][\w -]{0,63}$/i;
/** A CSS font-family list: names, quoted or not, separated by commas; nothing that could leave the declaration. */
const fontFamily = z
  .string()
  .max(200)
  .refine(
    (v) => v.split(',').every((f) => FAMILY_QUOTED.test(f.trim()) || FAMILY_BARE.test(f.trim())),
    'must be a font-family list such as "Inter", sans-serif',
  );

/** Shown as the sender's name of branded emails: no control characters, quotes, angle brackets or @ (no address spoofing). */
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .refine(
    (v) => [...v].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f && !'<>"@\\'.includes(c)),
    'must be plain text without quotes, angle brackets, @ or control characters',
  );

/** local@domain.tld without spaces, quotes or angle brackets (checked by hand: no regex to backtrack). */
function isEmail(v: string): boolean {
  const at = v.indexOf('@');
  if (at < 1 || at !== v.lastIndexOf('@') || /[\s<>"]/.test(v)) return false;
  const domain = v.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  return dot > 0 && dot < domain.length - 1;
}

const email = z.string().trim().toLowerCase().max(254).refine(isEmail, 'must be an email address');

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

export const brandingSchema = z
  .object({
    appName: nullable(z.string().trim().min(1).max(100)),
    logoUrl: nullable(httpsUrl),
    faviconUrl: nullable(httpsUrl),
    // Colour tokens.
    primaryColor: nullable(colour),
    secondaryColor: nullable(colour),
    accentColor: nullable(colour),
    backgroundColor: nullable(colour),
    textColor: nullable(colour),
    // Font tokens.
    fontFamily: nullable(fontFamily),
    headingFontFamily: nullable(fontFamily),
    // Sanitised before it is stored (branding/css.ts).
    customCss: nullable(z.string().max(MAX_CUSTOM_CSS_LENGTH, `must be at most ${MAX_CUSTOM_CSS_LENGTH} characters`)),
    // Branded emails: the Reply-To address and the sender's display name.
    supportEmail: nullable(email),
    emailFromName: nullable(displayName),
  })
  .strict();
export type BrandingInput = z.infer<typeof brandingSchema>;

export const BRANDING_FIELDS = Object.keys(brandingSchema.shape) as (keyof BrandingInput)[];
