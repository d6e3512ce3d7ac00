// REST surface of branding beyond the tenant's own PUT: a preview of what a
// branding patch would store and serve, custom CSS sanitised as it would be,
// without storing anything (the admin portal's live preview).
import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { assertMember, authenticate } from '../http/middleware.ts';
import { brandingSchema } from './schemas.ts';
import { brandingWarnings, mergeBranding, publicBranding } from './service.ts';

const previewSchema = z.object({ branding: brandingSchema }).strict();

export function brandingRoutes(ctx: AppContext): Router {
  const router = Router();

  // Owners and admins, like the PUT it previews; reads nothing stored, so the patch alone is shown.
  router.post('/api/tenants/:id/branding/preview', authenticate(ctx), async (req, res) => {
    const id = tenantIdParam(req);
    const { branding } = parseBody(previewSchema, req.body);
    await assertMember(ctx, req, id, 'admin');
    const merged = mergeBranding({}, branding, ctx.env);
    res.json({ branding: publicBranding(merged.branding, ctx.env), brandingWarnings: brandingWarnings(merged.cssDropped) });
  });

  return router;
}
