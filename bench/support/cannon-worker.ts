// Runs one autocannon load in its own process, so the load generator does not
// share an event loop with the server it measures. Input: the options as JSON on
// stdin; output: one JSON summary line on stdout (parsed by http-load.ts).
import autocannon from 'autocannon';
import { childInput } from './child.ts';
import { cannonOptionsSchema } from './http-load.ts';

const opts = await childInput(cannonOptionsSchema);
// Bodies go out in turn across all connections (a list per connection would start
// every connection at the first body, and a short run would never reach the last).
const bodies = opts.bodies;
let next = 0;
const result = await autocannon({
  url: opts.url,
  // A run (and its clock) ends at the first sample tick after the last answer: at the
  // default tick of 1 s, a run of `amount` requests would last a whole number of seconds.
  sampleInt: 10,
  connections: opts.connections,
  ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.durationSeconds ?? 10 }),
  method: opts.method,
  headers: opts.headers,
  ...(opts.body !== undefined ? { body: opts.body } : {}),
  ...(bodies
    ? { requests: [{ method: opts.method, setupRequest: (req: object) => ({ ...req, body: bodies[next++ % bodies.length] }) }] }
    : {}),
});
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.total / Math.max(result.duration, 1e-3),
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  })}\n`,
);
