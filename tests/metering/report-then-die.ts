// Run as a subprocess by the billing tests: reports usage to Stripe and is
// SIGKILLed right after Stripe accepted the first report, before recording it.
import { createLogger } from '../../actions-server/src/core/log.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { createStripeClient } from '../../actions-server/src/billing/stripe-client.ts';
import { reportUsageToStripe } from '../../actions-server/src/metering/stripe-report.ts';

const pool = createPool(process.env['DATABASE_URL']!, 2);
const stripe = createStripeClient('sk_test_meter', process.env['STRIPE_API_BASE']);
await reportUsageToStripe({
  pool,
  stripe,
  log: createLogger('silent'),
  afterSend: () => {
    process.kill(process.pid, 'SIGKILL');
  },
});
// Nothing pending: exit normally.
await pool.end();
