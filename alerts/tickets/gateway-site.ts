import type { DeviceInfo, DeviceLookup } from './ticket-service.ts';

/** The most frequent of the values, or undefined when there is none. */
function mostCommon(values: ReadonlyArray<string | undefined>): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of counts) if (best === undefined || n > counts.get(best)!) best = v;
  return best;
}

/**
 * What the addresses share, up to their last whole part: up to the last 号 when there is one (a
 * concentrator serves one compound: 东区幸福路12号阳光花园3栋… and …12号阳光花园5栋… share
 * 东区幸福路12号), else without a trailing half-number (东区幸福路1 of 12号 and 14号 is 东区幸福路).
 */
export function sharedAddress(addresses: readonly string[]): string | undefined {
  if (addresses.length === 0) return undefined;
  let prefix = addresses[0]!;
  for (const a of addresses) {
    let i = 0;
    while (i < prefix.length && i < a.length && prefix[i] === a[i]) i++;
    prefix = prefix.slice(0, i);
  }
  if (addresses.length === 1) return prefix;
  const hao = prefix.lastIndexOf('号');
  const site = (hao >= 0 ? prefix.slice(0, hao + 1) : prefix.replace(/[\s\d\-–·,，]+$/u, '')).trim();
  return site || undefined;
}

/**
 * Where a gateway ticket stands: the gateway's site, never a customer. The registry holds devices,
 * not gateways (a gateway id is looked up in case a record was made for it); otherwise the site is
 * what the addresses of the devices behind it share, and the district is theirs (the most common
 * one, for routing, should they span two). Before this a gateway ticket took its first device's
 * customer and flat as its own. Its point is the gateway's own record's, if any.
 */
export function gatewaySite(gatewayId: string, devices: readonly string[], lookup: DeviceLookup): DeviceInfo {
  const own = lookup(gatewayId);
  const behind = devices.map((d) => lookup(d)).filter((i): i is DeviceInfo => i !== undefined);
  const district = own?.district || mostCommon(behind.map((i) => i.district));
  const address = own?.address || sharedAddress(behind.map((i) => i.address).filter((a): a is string => !!a));
  // Only the gateway's own point: its devices may be spread over a street or a district.
  const point = own?.lat !== undefined && own.lon !== undefined ? { lat: own.lat, lon: own.lon } : {};
  return { ...(district ? { district } : {}), ...(address ? { address } : {}), ...point };
}
