// What the server told this page about its host (meta tags, no inline script).
export type Face = 'tenant' | 'platform';

function meta(name: string): HTMLMetaElement | null {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`);
}

export const face: Face = meta('admin-face')?.content === 'tenant' ? 'tenant' : 'platform';

/** The tenant of this host (tenant face only). */
export function hostTenant(): { id: string; slug: string } {
  const el = meta('admin-tenant');
  if (!el) throw new Error('this page is not on a tenant host');
  return { id: el.content, slug: el.dataset['slug'] ?? '' };
}

/** `/api/tenants/<this tenant><rest>`: the REST routes of this host's tenant. */
export function tenantApi(rest = ''): string {
  return `/api/tenants/${hostTenant().id}${rest}`;
}
