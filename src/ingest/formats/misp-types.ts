/**
 * MISP attribute types (the MISP core format, draft-dulaunoy-misp-core-format section
 * 2.3) and the observables Cairn makes of them.
 */
import {
  type Normalised,
  type Observable,
  type ObservableKind,
  classify,
  normalise,
  normaliseIp,
} from '../../normalise/index.ts';

/** Types whose value is one observable of a kind. */
const SIMPLE_TYPES: Record<string, ObservableKind> = {
  'ip-src': 'ip',
  'ip-dst': 'ip',
  domain: 'domain',
  hostname: 'domain',
  url: 'url',
  email: 'email',
  'email-src': 'email',
  'email-dst': 'email',
  'email-reply-to': 'email',
  'target-email': 'email',
  'whois-registrant-email': 'email',
  AS: 'asn',
};

/** Hash types, alone or after a file name (`filename|sha256`). */
const HASH_TYPES = new Set([
  'md5',
  'sha1',
  'sha256',
  'sha512',
  'sha3-256',
  'sha3-512',
  'ssdeep',
  'tlsh',
]);

export interface AttributeObservables {
  observables: Array<Normalised<Observable>>;
  /** Part of the value that no observable carries, such as the port of `hostname|port`. */
  lost?: string;
}

/**
 * Returns the observables of an attribute, or undefined when its type has no observable
 * in Cairn (text, comment, filename, mutex, regkey, …). Composite types (`domain|ip`,
 * `ip-dst|port`, `filename|md5`) split at the `|`.
 */
export function attributeObservables(
  type: string,
  value: string,
): AttributeObservables | undefined {
  const simple = SIMPLE_TYPES[type];
  if (simple) return { observables: [normalise(simple, value)] };
  if (HASH_TYPES.has(type)) return { observables: [normalise('hash', value, type)] };

  const [first = '', second = ''] = splitComposite(value);
  if (type.startsWith('filename|') && HASH_TYPES.has(type.slice('filename|'.length))) {
    return {
      observables: [normalise('hash', second, type.slice('filename|'.length))],
      lost: `file name ${first}`,
    };
  }
  switch (type) {
    case 'malware-sample':
      return { observables: [normalise('hash', second, 'md5')], lost: `file name ${first}` };
    case 'domain|ip':
      return { observables: [normalise('domain', first), normalise('ip', second)] };
    case 'ip-src|port':
    case 'ip-dst|port':
      return { observables: [ipWithPort(first, second)] };
    case 'hostname|port':
      return { observables: [normalise('domain', first)], lost: `port ${second}` };
    default:
      return undefined;
  }
}

/** Splits `a|b` at the last `|`, which keeps an IPv6 address or a file name whole. */
function splitComposite(value: string): [string, string] {
  const bar = value.lastIndexOf('|');
  return bar === -1 ? [value, ''] : [value.slice(0, bar), value.slice(bar + 1)];
}

function ipWithPort(address: string, portText: string): Normalised<Observable> {
  const ip = normaliseIp(address);
  if (!ip.ok) return ip;
  if (ip.value.prefixLength !== undefined) return classify(address);
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) {
    return { ok: false, reason: `the port ${JSON.stringify(portText)} is not 1 to 65535` };
  }
  return {
    ok: true,
    value: { kind: 'ip', version: ip.value.version, value: ip.value.value, port },
  };
}
