// A real DNS server (dns2, UDP on 127.0.0.1) answering from a zone the test
// edits: TXT, CNAME and A records, NXDOMAIN for unknown names, SERVFAIL, or no
// answer at all (a timeout). Point DNS_SERVERS at `server.address`.
import dns2 from 'dns2';

const { Packet } = dns2;

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
      response.header.rcode = entry.fail === 'servfail' ? Packet.RCODE.SERVFAIL : Packet.RCODE.REFUSED;
    } else if (!entry) {
      response.header.rcode = Packet.RCODE.NXDOMAIN;
    } else {
      const base = { name: question.name, class: Packet.CLASS.IN, ttl: 1 };
      if (entry.cname && (question.type === Packet.TYPE.CNAME || question.type === Packet.TYPE.A)) {
        response.answers.push({ ...base, type: Packet.TYPE.CNAME, domain: entry.cname });
      } else if (question.type === Packet.TYPE.TXT) {
        for (const data of entry.txt ?? []) response.answers.push({ ...base, type: Packet.TYPE.TXT, data });
      } else if (question.type === Packet.TYPE.A) {
        for (const address of entry.a ?? []) response.answers.push({ ...base, type: Packet.TYPE.A, address });
      }
    }
    send(response);
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
