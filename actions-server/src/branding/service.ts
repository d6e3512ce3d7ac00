// Branding as stored (public.tenants.branding) and as shown to anyone. Custom
// CSS is sanitised when written, and again when served (memoised), so a value
// written around the API (SQL) is never served as it was written.
import { LRUCache } from 'lru-cache';
import type { Env } from '../core/config.ts';
import { AppError } from '../core/errors.ts';
import { CustomCssTooLarge, sanitiseCss } from './css.ts';
import { BRANDING_FIELDS, brandingSchema, type BrandingInput } from './schemas.ts';

export type BrandingEnv = Pick<Env, 'BRANDING_IMAGE_HOSTS'>;

const cssOptions = (env: BrandingEnv) => ({ imageHosts: env.BRANDING_IMAGE_HOSTS });

/** The stored branding after applying a patch (null removes a field), and what the CSS sanitiser removed. */
export function mergeBranding(
  current: Record<string, unknown>,
  patch: BrandingInput,
  env: BrandingEnv,
): { branding: Record<string, unknown>; cssDropped: string[] } {
  const next: Record<string, unknown> = { ...current };
  let cssDropped: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) {
      delete next[key];
    } else if (key === 'customCss' && typeof value === 'string') {
      const clean = cleanCss(value, env);
      next[key] = clean.css;
      cssDropped = clean.dropped;
    } else {
      next[key] = value;
    }
  }
  return { branding: next, cssDropped };
}

/** What the sanitiser removed, as the answers of a branding change word it. */
export function brandingWarnings(cssDropped: string[]): string[] {
  return cssDropped.map((d) => `customCss: removed ${d}`);
}

function cleanCss(css: string, env: BrandingEnv): { css: string; dropped: string[] } {
  try {
    return sanitiseCss(css, cssOptions(env));
  } catch (err) {
    if (err instanceof CustomCssTooLarge) {
      throw new AppError('VALIDATION_FAILED', `Invalid request: branding.customCss: ${err.message}`, {
        issues: [{ path: 'branding.customCss', message: err.message }],
      });
    }
    throw err;
  }
}

const served = new LRUCache<string, string>({ max: 500 });

/** The public face: known fields that still validate, custom CSS sanitised. */
export function publicBranding(raw: Record<string, unknown>, env: BrandingEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of BRANDING_FIELDS) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    const parsed = brandingSchema.shape[field].safeParse(value);
    if (!parsed.success) continue;
    if (field === 'customCss' && typeof parsed.data === 'string') {
      const key = `${env.BRANDING_IMAGE_HOSTS.join(',')}\n${parsed.data}`;
      let css = served.get(key);
      if (css === undefined) {
        css = sanitiseCss(parsed.data, cssOptions(env)).css;
        served.set(key, css);
      }
      out[field] = css;
    } else {
      out[field] = parsed.data;
    }
  }
  return out;
}
