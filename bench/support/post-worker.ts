// Delivers a list of distinct request bodies with N concurrent keep-alive
// connections, in its own process (the server under test keeps its event loop).
// Input: a DeliveryPlan from deliver() in deliveries.ts (child.ts);
// output: one JSON summary line on stdout.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { childInput } from './child.ts';
import { deliveryPlanSchema } from './deliveries.ts';

const plan = await childInput(deliveryPlanSchema);
const agent = new http.Agent({ keepAlive: true, maxSockets: plan.concurrency });
const url = new URL(plan.url);
const statusCodes: Record<string, number> = {};
const outcomes: Record<string, number> = {};
let errors = 0;

function post(body: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          statusCodes[String(res.statusCode)] = (statusCodes[String(res.statusCode)] ?? 0) + 1;
          try {
            const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            const outcome = typeof parsed === 'object' && parsed !== null && 'status' in parsed ? String(parsed.status) : 'none';
            outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          } catch {
            outcomes['unreadable'] = (outcomes['unreadable'] ?? 0) + 1;
          }
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(body);
  });
}

let next = 0;
const start = performance.now();
await Promise.all(
  Array.from({ length: plan.concurrency }, async () => {
    while (next < plan.deliveries.length) {
      const d = plan.deliveries[next++]!;
      await post(d.body, d.headers);
    }
  }),
);
const durationMs = performance.now() - start;
agent.destroy();
process.stdout.write(`${JSON.stringify({ durationMs, statusCodes, outcomes, errors })}\n`);
