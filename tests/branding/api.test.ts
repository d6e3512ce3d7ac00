// Branding through the API: every field validated on its own (400 naming it),
// custom CSS sanitised before it is stored, and the public endpoints (by-slug,
// by-domain) serving only known fields with sanitised CSS, even for a value
// written around the API.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { makePerson, sessionToken } from '../support/people.ts';

let acme: MadeTenant;
let token: string;

const put = (branding: Record<string, unknown>) =>
  request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { method: 'PUT', host: 'acme.saas.test', token, body: { branding } });

const fx = useTestServer({ BRANDING_IMAGE_HOSTS: 'cdn.acme.com' });
beforeAll(async () => {
  acme = await makeTenant(fx.db, 'acme', { isolation: 'pooled' });
  const res = await request(fx.srv.url, '/api/auth/login', {
    host: 'acme.saas.test',
    body: { email: acme.ownerEmail, password: OWNER_PASSWORD },
  });
  token = res.body.token;
});

const FULL = {
  appName: 'Acme Chat',
  logoUrl: 'https://cdn.acme.com/logo.png',
  faviconUrl: 'https://cdn.acme.com/favicon.ico',
  primaryColor: '#FF5733',
  secondaryColor: '#333',
  accentColor: '#0a84ffcc',
  backgroundColor: '#ffffff',
  textColor: '#1c1c1e',
  fontFamily: '"Inter", system-ui, sans-serif',
  headingFontFamily: "'Brand Sans', serif",
  supportEmail: 'Support@Acme.com',
  emailFromName: 'Acme Support Team',
  customCss:
    '.btn{background:var(--brand);behavior:url(x.htc)} @import "https://evil.example/x.css"; .logo{background:url(https://cdn.acme.com/l.png)}',
};

describe('branding', () => {
  it('stores every field, with the custom CSS sanitised, and says what was removed', async () => {
    const res = await put(FULL);
    expect(res.status, res.text).toBe(200);
    const css = '.btn{background:var(--brand)}.logo{background:url(https://cdn.acme.com/l.png)}';
    expect(res.body.tenant.branding).toEqual({ ...FULL, supportEmail: 'support@acme.com', customCss: css });
    expect(res.body.brandingWarnings).toEqual(['customCss: removed property behavior', 'customCss: removed @import']);
    const { rows } = await fx.db.pool.query('select branding from public.tenants where id = $1', [acme.tenant.id]);
    expect(rows[0].branding.customCss).toBe(css);
  });

  it('serves the public branding by slug and by verified domain', async () => {
    const bySlug = await request(fx.srv.url, '/api/tenants/by-slug?slug=acme');
    expect(bySlug.body.tenant.branding).toMatchObject({
      appName: 'Acme Chat',
      faviconUrl: FULL.faviconUrl,
      emailFromName: 'Acme Support Team',
    });
    await fx.db.pool.query(`update public.tenant_settings set features = features || '{"custom_domain": true}' where tenant_id = $1`, [
      acme.tenant.id,
    ]);
    await fx.db.pool.query(`update public.tenants set custom_domain = 'chat.acme.com', custom_domain_verified_at = now() where id = $1`, [
      acme.tenant.id,
    ]);
    const byDomain = await request(fx.srv.url, '/api/tenants/by-domain?domain=chat.acme.com');
    expect(byDomain.body.tenant.branding).toEqual(bySlug.body.tenant.branding);
  });

  it('sanitises CSS written around the API before serving it, and serves only known fields', async () => {
    await fx.db.pool.query(`update public.tenants set branding = branding || $2::jsonb where id = $1`, [
      acme.tenant.id,
      JSON.stringify({
        customCss: 'a{color:red}</style><script>alert(1)</script>',
        internalNote: 'secret',
        primaryColor: 'javascript:alert(1)',
      }),
    ]);
    const res = await request(fx.srv.url, '/api/tenants/by-slug?slug=acme');
    expect(res.body.tenant.branding.customCss).toBe('a{color:red}');
    expect(res.body.tenant.branding).not.toHaveProperty('internalNote');
    expect(res.body.tenant.branding).not.toHaveProperty('primaryColor');
  });

  it.each([
    ['primaryColor', 'red'],
    ['accentColor', '#12345'],
    ['logoUrl', 'javascript:alert(1)'],
    ['faviconUrl', 'http://cdn.acme.com/favicon.ico'],
    ['supportEmail', 'not-an-email'],
    ['emailFromName', 'Acme <ceo@bank.com>'],
    ['emailFromName', 'Line\r\nBcc: victim@example.com'],
    ['fontFamily', 'Inter;} body{background:red'],
    ['headingFontFamily', '"Unclosed'],
    ['customCss', `a{color:red}${' '.repeat(32_000)}`],
  ])('refuses %s = %j with 400 naming the field, changing nothing', async (field, value) => {
    const before = (await fx.db.pool.query('select branding from public.tenants where id = $1', [acme.tenant.id])).rows[0].branding;
    const res = await put({ appName: 'Changed', [field]: value });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.issues[0].path).toBe(`branding.${field}`);
    const after = (await fx.db.pool.query('select branding from public.tenants where id = $1', [acme.tenant.id])).rows[0].branding;
    expect(after).toEqual(before);
  });

  it('previews a patch as it would be stored and served, storing nothing, for owners and admins only', async () => {
    const before = (await fx.db.pool.query('select branding from public.tenants where id = $1', [acme.tenant.id])).rows[0].branding;
    const preview = (body: unknown, as = token) =>
      request(fx.srv.url, `/api/tenants/${acme.tenant.id}/branding/preview`, { host: 'acme.saas.test', token: as, body });
    const res = await preview({ branding: { primaryColor: '#010203', customCss: FULL.customCss } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      branding: { primaryColor: '#010203', customCss: '.btn{background:var(--brand)}.logo{background:url(https://cdn.acme.com/l.png)}' },
      brandingWarnings: ['customCss: removed property behavior', 'customCss: removed @import'],
    });
    expect((await fx.db.pool.query('select branding from public.tenants where id = $1', [acme.tenant.id])).rows[0].branding).toEqual(
      before,
    );

    const bad = await preview({ branding: { primaryColor: 'blue' } });
    expect([bad.status, bad.body.error.details.issues[0].path]).toEqual([400, 'branding.primaryColor']);
    expect((await preview({ css: 'a{}' })).status).toBe(400);
    const member = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const memberToken = await sessionToken(fx.srv, member.id, acme.tenant.id, 'member');
    expect((await preview({ branding: {} }, memberToken)).status).toBe(403);
    expect(
      (await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/branding/preview`, { host: 'acme.saas.test', body: { branding: {} } }))
        .status,
    ).toBe(401);
  });

  it('refuses unknown fields and removes a field set to null', async () => {
    expect((await put({ favicon: 'https://cdn.acme.com/f.ico' })).status).toBe(400);
    const res = await put({ faviconUrl: null, customCss: null });
    expect(res.status).toBe(200);
    expect(res.body.tenant.branding).not.toHaveProperty('faviconUrl');
    expect(res.body.tenant.branding).not.toHaveProperty('customCss');
    expect(res.body.tenant.branding.appName).toBe('Acme Chat');
  });
});
