import Supercluster from 'supercluster';
import { severityRank, SEVERITY_ORDER } from './alarm-filters.ts';
import type { Alert, Ticket } from './api.ts';

/**
 * What the alarm map shows, as pure functions of the alarms and open tickets: one marker per
 * device with active alarms and a point, one per incident ticket (a storm folded on a district or
 * a gateway) in place of the alarms it folds, and clusters of them when zoomed out.
 */

export type MapPoint =
  | {
      kind: 'device';
      key: string;
      lat: number;
      lon: number;
      severity: string;
      deviceId: string;
      /** Its active alarms, worst first (a leak often comes with VALVE_NOT_CUT: one place, one marker). */
      alerts: Alert[];
    }
  | {
      kind: 'incident';
      key: string;
      lat: number;
      lon: number;
      severity: string;
      ticket: Ticket;
      /** The active alarms it folds, with their points. */
      alerts: Alert[];
      /** Devices the ticket lists: what the marker says. */
      deviceCount: number;
    };

export interface MapPoints {
  points: MapPoint[];
  /** Active alarms the map cannot place: their device has no point in the registry. */
  unplaced: Alert[];
}

const hasPoint = (a: Alert): a is Alert & { lat: number; lon: number } => typeof a.lat === 'number' && typeof a.lon === 'number';

/** The worst of the severities, critical first; `info` for none. */
export function worstSeverity(severities: Iterable<string>): string {
  let best = SEVERITY_ORDER.length;
  let worst = 'info';
  for (const s of severities) {
    const r = severityRank(s);
    if (r < best) {
      best = r;
      worst = s;
    }
  }
  return worst;
}

/** An open ticket that folds many devices: a storm's incident on a district or a gateway. */
export const isIncident = (t: Ticket): boolean => (t.subject === 'district' || t.subject === 'gateway') && t.devices.length > 0;

/** The active alarms an incident ticket stands for: its devices' alarms of its active conditions, and a gateway's own. */
function foldedBy(t: Ticket, alerts: readonly Alert[]): Alert[] {
  const devices = new Set(t.devices);
  return alerts.filter(
    (a) => t.activeConditions.includes(a.condition) && (devices.has(a.deviceId) || (t.subject === 'gateway' && a.subject === 'gateway' && a.deviceId === t.subjectId)),
  );
}

/**
 * Markers for the alarms and incidents. An incident stands where its folded alarms are (their
 * centroid, in the map's system like the alarms), coloured by the worst of them; an alarm folded
 * by an incident has no marker of its own. An incident none of whose alarms has a point is not
 * drawn; its alarms count as unplaced. A device's other alarms share its marker.
 */
export function mapPoints(alerts: readonly Alert[], tickets: readonly Ticket[]): MapPoints {
  const folded = new Set<string>();
  const points: MapPoint[] = [];
  const unplaced: Alert[] = [];
  for (const t of tickets) {
    if (!isIncident(t)) continue;
    const mine = foldedBy(t, alerts).filter((a) => !folded.has(a.id));
    if (mine.length === 0) continue;
    for (const a of mine) folded.add(a.id);
    const placed = mine.filter(hasPoint);
    if (placed.length === 0) {
      unplaced.push(...mine);
      continue;
    }
    points.push({
      kind: 'incident',
      key: `ticket:${t.id}`,
      lat: placed.reduce((s, a) => s + a.lat, 0) / placed.length,
      lon: placed.reduce((s, a) => s + a.lon, 0) / placed.length,
      severity: worstSeverity(mine.map((a) => a.severity)),
      ticket: t,
      alerts: mine,
      deviceCount: t.devices.length,
    });
  }
  const byDevice = new Map<string, Alert[]>();
  for (const a of alerts) {
    if (folded.has(a.id)) continue;
    if (!hasPoint(a)) unplaced.push(a);
    else (byDevice.get(a.deviceId) ?? byDevice.set(a.deviceId, []).get(a.deviceId)!).push(a);
  }
  for (const [deviceId, mine] of byDevice) {
    mine.sort((x, y) => severityRank(x.severity) - severityRank(y.severity) || y.raisedAt.localeCompare(x.raisedAt));
    const first = mine[0] as Alert & { lat: number; lon: number };
    points.push({ kind: 'device', key: `device:${deviceId}`, lat: first.lat, lon: first.lon, severity: first.severity, deviceId, alerts: mine });
  }
  return { points, unplaced };
}

/** What a cluster carries: how many alarms it holds and the worst severity's rank among them. */
interface ClusterSummary {
  alarms: number;
  rank: number;
}

export type MapMarker =
  | { type: 'point'; point: MapPoint }
  | { type: 'cluster'; id: number; lat: number; lon: number; alarms: number; markers: number; severity: string };

/** `[west, south, east, north]`, degrees. */
export type BBox = [number, number, number, number];

/**
 * The cluster index of a set of points. Markers nearer than `radiusPx` at a zoom merge into one
 * cluster, coloured by its worst alarm; from `maxZoom` + 1 on every point stands alone.
 */
export class MarkerIndex {
  readonly #index: Supercluster<{ i: number }, ClusterSummary>;

  constructor(readonly points: readonly MapPoint[], options: { radiusPx?: number; maxZoom?: number } = {}) {
    this.#index = new Supercluster<{ i: number }, ClusterSummary>({
      radius: options.radiusPx ?? 56,
      maxZoom: options.maxZoom ?? 16,
      map: (p) => {
        const point = points[p.i]!;
        return { alarms: point.alerts.length, rank: severityRank(point.severity) };
      },
      reduce: (acc, p) => {
        acc.alarms += p.alarms;
        acc.rank = Math.min(acc.rank, p.rank);
      },
    });
    this.#index.load(points.map((p, i) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, properties: { i } })));
  }

  /** The markers to draw in `bbox` at `zoom`. */
  markers(bbox: BBox, zoom: number): MapMarker[] {
    return this.#index.getClusters(bbox, Math.round(zoom)).map((f) => {
      const props = f.properties;
      if ('cluster' in props && props.cluster) {
        const [lon, lat] = f.geometry.coordinates as [number, number];
        return { type: 'cluster', id: props.cluster_id, lat, lon, alarms: props.alarms, markers: props.point_count, severity: SEVERITY_ORDER[props.rank] ?? 'info' };
      }
      return { type: 'point', point: this.points[(props as { i: number }).i]! };
    });
  }

  /** The zoom at which a cluster falls apart: where clicking it goes. */
  expansionZoom(clusterId: number): number {
    return this.#index.getClusterExpansionZoom(clusterId);
  }
}

/** Spacing of the plain map's graticule at a zoom, degrees: about four to ten lines across a desk's screen. */
export function graticuleStep(zoom: number): number {
  const steps = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
  // Each zoom halves the degrees per pixel; zoom 2 shows ~180° on a desk screen.
  const wanted = 360 / 2 ** zoom;
  return steps.find((s) => s <= wanted) ?? steps[steps.length - 1]!;
}

/** A graticule line's label: as many decimals as the step needs, with its hemisphere (31.25°N, 121.45°E). */
export function graticuleLabel(value: number, step: number, axis: 'lat' | 'lon'): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  const hemisphere = axis === 'lat' ? (value < 0 ? 'S' : 'N') : value < 0 ? 'W' : 'E';
  return `${Math.abs(value).toFixed(decimals)}°${value === 0 ? '' : hemisphere}`;
}
