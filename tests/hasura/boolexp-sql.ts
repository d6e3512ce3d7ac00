// Translates a Hasura permission filter into a SQL predicate the way Hasura
// applies it (session variables become parameters), so tests can run each
// role's filter against the real database as the role Hasura connects as.
// Covers what our metadata uses: _and/_or/_not, comparison operators,
// _exists, and object relationships by foreign key (one column or several).
import pg from 'pg';

type Exp = Record<string, unknown>;
const isRecord = (v: unknown): v is Exp => typeof v === 'object' && v !== null && !Array.isArray(v);
const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);

export interface TableRef {
  schema: string;
  name: string;
}

export interface Relationship {
  /** Column of this table holding the foreign key. */
  column: string;
  target: TableRef;
  /** Referenced column of the target (the primary key). */
  targetColumn: string;
  /** A composite foreign key's other column pairs (this table's column → the target's), e.g. tenant_id. */
  alsoJoin?: Record<string, string>;
  /** Relationships of the target table, for nested filters. */
  relationships?: Record<string, Relationship>;
}

export interface TranslateOptions {
  session: Record<string, string>;
  relationships?: Record<string, Relationship>;
}

const COMPARISONS: Record<string, string> = { _eq: '=', _neq: '<>', _gt: '>', _lt: '<', _gte: '>=', _lte: '<=' };

export class BoolExpSql {
  readonly params: unknown[] = [];
  private aliases = 0;

  constructor(private readonly session: Record<string, string>) {}

  private value(v: unknown): string {
    if (typeof v === 'string' && /^x-hasura-/i.test(v)) {
      const key = v.toLowerCase();
      const found = Object.entries(this.session).find(([k]) => k.toLowerCase() === key);
      // Hasura refuses a query whose permission names a missing session variable.
      if (!found) throw new Error(`missing session variable ${v}`);
      v = found[1];
    }
    this.params.push(v);
    return `$${this.params.length}`;
  }

  predicate(exp: unknown, alias: string, relationships: Record<string, Relationship> = {}): string {
    if (!isRecord(exp)) throw new Error(`not a boolean expression: ${JSON.stringify(exp)}`);
    const parts: string[] = [];
    for (const [key, operand] of Object.entries(exp)) {
      if (key === '_and' || key === '_or') {
        const items = (operand as unknown[]).map((e) => this.predicate(e, alias, relationships));
        parts.push(items.length === 0 ? 'true' : `(${items.join(key === '_and' ? ' and ' : ' or ')})`);
      } else if (key === '_not') {
        parts.push(`not (${this.predicate(operand, alias, relationships)})`);
      } else if (key === '_exists') {
        const { _table: table, _where: where } = operand as { _table: TableRef; _where: unknown };
        const inner = `e${++this.aliases}`;
        parts.push(`exists (select 1 from ${ident(table.schema)}.${ident(table.name)} ${inner} where ${this.predicate(where, inner)})`);
      } else if (relationships[key]) {
        const rel = relationships[key];
        const inner = `r${++this.aliases}`;
        const joins = [[rel.column, rel.targetColumn], ...Object.entries(rel.alsoJoin ?? {})]
          .map(([from, to]) => `${inner}.${ident(to!)} = ${alias}.${ident(from!)}`)
          .join(' and ');
        parts.push(
          `exists (select 1 from ${ident(rel.target.schema)}.${ident(rel.target.name)} ${inner} ` +
            `where ${joins} and ${this.predicate(operand, inner, rel.relationships)})`,
        );
      } else {
        parts.push(this.column(`${alias}.${ident(key)}`, operand));
      }
    }
    return parts.length === 0 ? 'true' : parts.join(' and ');
  }

  private column(col: string, ops: unknown): string {
    if (!isRecord(ops)) throw new Error(`column ${col} needs operators`);
    return Object.entries(ops)
      .map(([op, v]) => {
        if (COMPARISONS[op]) return `${col} ${COMPARISONS[op]} ${this.value(v)}`;
        if (op === '_in' || op === '_nin') {
          const list = (v as unknown[]).map((x) => this.value(x)).join(', ');
          return `${col} ${op === '_in' ? 'in' : 'not in'} (${list})`;
        }
        if (op === '_is_null') return `${col} is ${v ? '' : 'not '}null`;
        throw new Error(`operator ${op} is not translated by the test`);
      })
      .join(' and ');
  }
}

/** `select <columns> from <table> t where <filter>` with its parameters. */
export function filteredSelect(
  table: TableRef,
  filter: unknown,
  opts: TranslateOptions,
  columns = 'count(*)::int as n',
): { sql: string; params: unknown[] } {
  const t = new BoolExpSql(opts.session);
  const where = t.predicate(filter, 't', opts.relationships);
  return { sql: `select ${columns} from ${ident(table.schema)}.${ident(table.name)} t where ${where}`, params: t.params };
}
