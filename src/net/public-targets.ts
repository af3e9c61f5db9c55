/**
 * Checks of the addresses that outbound requests go to: webhook deliveries and connector
 * fetches. Users of other organisations give those URLs, so by default no request goes to
 * a loopback, private, link-local or other non-public address, because otherwise a user
 * could make the server reach services inside its own network.
 *
 * A URL whose host is an IP literal is checked before the request. A host name is checked
 * when the connection is made: `publicOnlyLookup` resolves it and fails when any address
 * is not public, so a name that resolves inward after it was checked (DNS rebinding) is
 * stopped too.
 */
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';

import ipaddr from 'ipaddr.js';

/** The code of the error `publicOnlyLookup` gives for a name with a non-public address. */
export const NON_PUBLIC_CODE = 'ENONPUBLIC';

/** Returns the IP address a URL host (as WHATWG URL normalises it) is, if it is one. */
function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? bare : undefined;
}

/** Tells whether an IP address is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  // process() turns an IPv4-mapped IPv6 address such as ::ffff:10.0.0.1 into IPv4.
  return ipaddr.isValid(address) && ipaddr.process(address).range() === 'unicast';
}

/** Tells whether a URL host is a loopback IP literal. */
export function isLoopbackHost(hostname: string): boolean {
  const address = ipLiteral(hostname);
  return address !== undefined && ipaddr.process(address).range() === 'loopback';
}

/** Tells whether a URL host is an IP literal that is not a public address. */
export function isNonPublicLiteral(hostname: string): boolean {
  const address = ipLiteral(hostname);
  return address !== undefined && !isPublicAddress(address);
}

/**
 * Builds a `lookup` for node:net that resolves like the default but fails with the code
 * NON_PUBLIC_CODE when an address the name resolves to is not public, so no connection is
 * made to it. `rule` ends the message, such as "this server sends webhooks only to public
 * addresses".
 */
export function publicOnlyLookup(rule: string): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const blocked = addresses.find((entry) => !isPublicAddress(entry.address));
      if (blocked !== undefined) {
        const refusal = new Error(
          `${hostname} resolves to the non-public address ${blocked.address}, and ${rule}`,
        ) as NodeJS.ErrnoException;
        refusal.code = NON_PUBLIC_CODE;
        callback(refusal, '', 0);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
