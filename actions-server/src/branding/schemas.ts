// Edge validation of a tenant's branding: each field checked on its own, so a
// bad value answers 400 naming it (branding.<field>). null removes a field.
import { z } from 'zod';
import { MAX_CUSTOM_CSS_LENGTH } from './css.ts';

const colour = z
  .string()
  .regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, 'must be a hex colour such as #1a2b3c');

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

const FAMILY_QUOTED = /^(?:"[A-Za-z0-9 _-]{1,64}"|'[A-Za-z0-9 _-]{1,64}')$/;
const FAMILY_BARE = /^[A-Za-z][A-Za-z0-9 _-]{0,63}$/;
/** A CSS font-family list: names, quoted or not, separated by commas; nothing that could leave the declaration. */
const fontFamily = z
  .string()
  .max(200)
  .refine((v) => v.split(',').every((f) => FAMILY_QUOTED.test(f.trim()) || FAMILY_BARE.test(f.trim())), 'must be a font-family list such as "Inter", sans-serif');

/** Shown as the sender's name of branded emails: no control characters, quotes, angle brackets or @ (no address spoofing). */
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\u0000-\u001f\u007f<>"@\\]+$/, 'must be plain text without quotes, angle brackets, @ or control characters');

const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$/, 'must be an email address');

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
