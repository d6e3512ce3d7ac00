// A real DNS server (dns2, UDP on 127.0.0.1) answering from a zone the test
// edits: TXT, CNAME and A records, NXDOMAIN for unknown names, SERVFAIL, or no
// answer at all (a timeout). Point DNS_SERVERS at `server.address`.
import dns2 from 'dns2';

const { Packet } = dns2;
// Response codes (RFC 1035 §4.1.1); dns2's typings omit its RCODE.
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

export interface ZoneEntry {
  /** Each record is a list of character-strings (a long value is split across several). */
  txt?: string[][];
  cname?: string;
  a?: string[];
  /** Answer with this failure instead (SERVFAIL, REFUSED), or never answer. */
  fail?: 'servfail' | 'refused' | 'timeout';
}

export interface TestDnsServer {
  address: string;
  zone: Map<string, ZoneEntry>;
  /** Questions received, as `<type> <name>`. */
  queries: string[];
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const zone = new Map<string, ZoneEntry>();
  const queries: string[] = [];
  const server = dns2.createUDPServer((request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const question = request.questions[0];
    if (!question) return;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    queries.push(`${question.type} ${name}`);
    const entry = zone.get(name);
    if (entry?.fail === 'timeout') return;
    if (entry?.fail) {
      response.header.rcode = entry.fail === 'servfail' ? RCODE.SERVFAIL : RCODE.REFUSED;
    } else if (!entry) {
      response.header.rcode = RCODE.NXDOMAIN;
    } else {
      const answer = (record: { type: number; domain?: string; data?: string[]; address?: string }) =>
        response.answers.push(Packet.createResourceFromQuestion(question, { ...record, class: Packet.CLASS.IN, ttl: 1 }));
      if (entry.cname && (question.type === Packet.TYPE.CNAME || question.type === Packet.TYPE.A)) {
        answer({ type: Packet.TYPE.CNAME, domain: entry.cname });
      } else if (question.type === Packet.TYPE.TXT) {
        for (const data of entry.txt ?? []) answer({ type: Packet.TYPE.TXT, data });
      } else if (question.type === Packet.TYPE.A) {
        for (const address of entry.a ?? []) answer({ type: Packet.TYPE.A, address });
      }
    }
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  const { port } = server.address();
  return {
    address: `127.0.0.1:${port}`,
    zone,
    queries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
