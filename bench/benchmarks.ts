// Every benchmark of bench/README.md, in its order (the table prints them so).
// provisioning runs before template-migration: it hands over its thousands of
// schema tenants (see SCHEMA_TENANTS_KEY).
import { authWebhook } from './auth-webhook.ts';
import { hasuraExposure } from './hasura-exposure.ts';
import { limits } from './limits.ts';
import { pooledRls } from './pooled-rls.ts';
import { provisioning } from './provisioning.ts';
import { rateLimit } from './rate-limit.ts';
import { resolution } from './resolution.ts';
import { stripeWebhooks } from './stripe-webhooks.ts';
import { templateMigration } from './template-migration.ts';
import { tenantExport } from './tenant-export.ts';
import { usage } from './usage.ts';
import { usageIngestion } from './usage-ingestion.ts';
import { webhookDeliveries } from './webhook-deliveries.ts';
import type { Benchmark } from './support/types.ts';

export const BENCHMARKS: Benchmark[] = [
  authWebhook,
  pooledRls,
  resolution,
  provisioning,
  templateMigration,
  usage,
  limits,
  rateLimit,
  stripeWebhooks,
  hasuraExposure,
  tenantExport,
  usageIngestion,
  webhookDeliveries,
];
