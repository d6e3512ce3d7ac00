// Tenant lifecycle over time: tenants cancelled long enough ago are archived.
import { defineJob, olderThanPayload } from '../jobs/types.ts';
import { archiveCancelledTenants } from './service.ts';

export const TENANT_JOBS = [
  defineJob({
    name: 'tenants.archive-cancelled',
    payload: olderThanPayload(90),
    schedule: '0 3 * * *',
    run: async ({ olderThanDays }, ctx) => {
      const archived = await archiveCancelledTenants(ctx.pool, olderThanDays);
      if (archived) ctx.log.info({ archived }, 'cancelled tenants archived');
    },
  }),
];
