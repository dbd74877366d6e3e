/**
 * Variants: Natter's scenarios run again with a feature that costs something switched on (issue 3: TLS now, message
 * history switched off), reported beside the plain figures with the ratio variant / plain. Only Natter runs variants; the
 * reference servers always run plain.
 *
 * A variant is a fresh Natter started with extra `natter serve` arguments, plus how the clients reach it. Adding one
 * (say `history`) is an entry here: its arguments, its transport, its title in the report.
 */

export const VARIANTS = ['plain', 'tls', 'nohistory'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface VariantSpec {
  name: Variant;
  /** Heading of its table in the report, e.g. "Natter with TLS". */
  title: string;
  /** What differs from plain, as a noun phrase for the report ("The same scenarios with ..."). */
  description: string;
  /** How the clients dial: plain TCP to {{PORT}}, or TLS to {{TLSPORT}} (a second free loopback port). */
  transport: 'tcp' | 'tls';
  /** Extra `natter serve` arguments, rendered like the server's config ({{PORT}}, {{TLSPORT}}, {{DIR}}). */
  natterArgs: readonly string[];
}

export const VARIANT_SPECS: Record<Variant, VariantSpec> = {
  plain: {
    name: 'plain',
    title: 'Natter',
    description: 'every client on plain TCP',
    transport: 'tcp',
    natterArgs: [],
  },
  tls: {
    name: 'tls',
    title: 'Natter with TLS',
    description:
      "every client on Natter's TLS listener (`--listen-tls`; TLS 1.3 with the self-signed ECDSA P-256 certificate " +
      'Natter makes in its data folder; a full handshake per connection, no session resumption)',
    transport: 'tls',
    natterArgs: ['--listen-tls', '127.0.0.1:{{TLSPORT}}'],
  },
  nohistory: {
    name: 'nohistory',
    title: 'Natter without history',
    description:
      'message history switched off (`--no-history`): no store write per message, so the ratio shows what keeping ' +
      'every message in SQLite, durably before it is delivered, costs (plain keeps history, as Natter does by default)',
    transport: 'tcp',
    natterArgs: ['--no-history'],
  },
};

/** Parses --variants: a comma list of known variants (or `all`), in the order of VARIANTS, without repeats. */
export function parseVariants(spec: string | undefined): Variant[] {
  if (spec === undefined) return ['plain'];
  const list = spec.split(',').map((s) => s.trim());
  if (list.includes('all')) return [...VARIANTS];
  for (const v of list) {
    if (!(VARIANTS as readonly string[]).includes(v)) {
      throw new Error(`--variants: unknown variant ${JSON.stringify(v)} (known: ${VARIANTS.join(', ')})`);
    }
  }
  return VARIANTS.filter((v) => list.includes(v));
}

/** The key of a (server, variant) pair in Results.medians: the plain run keeps the bare server name. */
export function medianKey(server: string, variant: Variant | undefined): string {
  return variant === undefined || variant === 'plain' ? server : `${server}+${variant}`;
}
