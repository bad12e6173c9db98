import * as L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Alert, ApiClient, ConsoleSettings, Lang, Ticket } from '../api.ts';
import { isSafety } from '../alarm-filters.ts';
import { conditionLabel } from '../conditions.ts';
import { formatTime, LangContext, useI18n } from '../i18n.ts';
import { graticuleLabel, graticuleStep, isIncident, mapPoints, MarkerIndex, type MapMarker, type MapPoint } from '../map-markers.ts';
import { SeverityBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';

type MapSettings = ConsoleSettings['map'];

/** A storm's incident ticket opens after the folder's wait (3 s by default): read the tickets again once changes settle. */
const SETTLE_MS = 5_000;
/** The first view with neither alarms nor a configured centre: mainland China. */
const FALLBACK_VIEW = { center: [35, 105] as L.LatLngTuple, zoom: 4 };

/** Open incident tickets, read on every alarm change and again once the changes settle. */
function useIncidents(api: ApiClient, reloadKey: number): Ticket[] {
  const [tickets, setTickets] = useState<Ticket[]>([]);
  const [settled, setSettled] = useState(0);
  useEffect(() => {
    const timer = setTimeout(() => setSettled((n) => n + 1), SETTLE_MS);
    return () => clearTimeout(timer);
  }, [reloadKey]);
  useEffect(() => {
    let stale = false;
    api.tickets().then(
      (items) => !stale && setTickets(items.filter(isIncident)),
      // The alarms still show without them; the list tab reports ticket errors.
      () => undefined,
    );
    return () => {
      stale = true;
    };
  }, [api, reloadKey, settled]);
  return tickets;
}

function Popup({ point }: { point: MapPoint }) {
  const { t, lang } = useI18n();
  if (point.kind === 'incident') {
    const tk = point.ticket;
    return (
      <div class="map-popup" data-testid="map-popup">
        <div class="popup-head">
          <SeverityBadge severity={point.severity} />
          <strong>{t('map.incident')}</strong>
        </div>
        {[...new Set(tk.activeConditions)].map((c) => (
          <div key={c}>
            <ConditionName condition={c} lang={lang} />
          </div>
        ))}
        <div>
          {point.deviceCount} {t('map.incidentDevices')} · {tk.district ?? tk.subjectId}
        </div>
        <a href={`#/tickets/${encodeURIComponent(tk.id)}`}>
          {t('map.openTicket')} {tk.id}
        </a>
      </div>
    );
  }
  const a = point.alerts[0]!;
  return (
    <div class="map-popup" data-testid="map-popup" data-device={point.deviceId}>
      {point.alerts.map((x) => (
        <div key={x.id} class="popup-head">
          <SeverityBadge severity={x.severity} />
          <strong>
            <ConditionName condition={x.condition} lang={lang} />
          </strong>
        </div>
      ))}
      <div>{a.address ?? '—'}</div>
      {a.customer && <div class="muted">{a.customer}</div>}
      {a.district && <div class="muted small">{a.district}</div>}
      <div class="muted small">{formatTime(a.raisedAt, lang)}</div>
      <a href={`#/device/${encodeURIComponent(a.deviceId)}`}>
        {t('map.openDevice')} {a.deviceId}
      </a>
    </div>
  );
}

/** The popup's DOM: rendered by Preact, so registry text is escaped like everywhere else. */
function popupElement(point: MapPoint, lang: Lang): HTMLElement {
  const el = document.createElement('div');
  render(
    <LangContext.Provider value={lang}>
      <Popup point={point} />
    </LangContext.Provider>,
    el,
  );
  return el;
}

function markerElement(marker: MapMarker, lang: Lang): { el: HTMLElement; size: number } {
  const el = document.createElement('div');
  if (marker.type === 'cluster') {
    // Grows with the count, so a storm reads as bigger than a single leak.
    const size = Math.round(30 + Math.min(24, Math.log10(marker.alarms) * 12));
    el.className = `map-cluster sev-${marker.severity}`;
    Object.assign(el.dataset, { testid: 'map-cluster', count: String(marker.alarms), severity: marker.severity });
    el.textContent = String(marker.alarms);
    return { el, size };
  }
  const p = marker.point;
  if (p.kind === 'incident') {
    el.className = `map-incident sev-${p.severity}`;
    Object.assign(el.dataset, { testid: 'map-incident', ticket: p.ticket.id, count: String(p.deviceCount), severity: p.severity });
    el.textContent = `×${p.deviceCount}`;
    el.title = `${p.ticket.id} · ${p.deviceCount}`;
    return { el, size: 34 };
  }
  const a = p.alerts[0]!;
  // Acknowledged once every safety alarm of the device was seen: the ring tells who still waits.
  const safety = p.alerts.filter(isSafety);
  const seen = safety.length > 0 && safety.every((x) => x.seen);
  el.className = `map-marker sev-${p.severity}${seen ? ' seen' : ''}`;
  Object.assign(el.dataset, { testid: 'map-marker', device: p.deviceId, conditions: p.alerts.map((x) => x.condition).join(' '), severity: p.severity });
  if (p.alerts.length > 1) el.textContent = String(p.alerts.length);
  el.title = `${p.alerts.map((x) => conditionLabel(x.condition, lang).name).join(' · ')} · ${a.address ?? p.deviceId}`;
  return { el, size: 22 };
}

const GRID_STYLE: L.PolylineOptions = { color: '#c5cfd8', weight: 1, interactive: false };

function gridLabel(at: L.LatLngExpression, text: string, anchor: L.PointTuple, align: 'left' | 'right'): L.Marker {
  const icon = L.divIcon({ html: text, className: `graticule-label ${align}`, iconSize: [90, 14], iconAnchor: anchor });
  return L.marker(at, { icon, interactive: false, keyboard: false });
}

/**
 * The plain map's parallels and meridians, labelled along the right and top edges: without tiles,
 * panning still shows movement and the operator can read where the view is.
 */
function drawGraticule(map: L.Map, layer: L.LayerGroup): void {
  layer.clearLayers();
  const b = map.getBounds();
  const step = graticuleStep(map.getZoom());
  // Lines on whole multiples of the step: counted in steps, so 0.1 + 0.2 never drifts into a label.
  const from = (v: number) => Math.floor(v / step);
  const to = (v: number) => Math.ceil(v / step);
  const [south, north] = [Math.max(-85, from(b.getSouth()) * step), Math.min(85, to(b.getNorth()) * step)];
  const [west, east] = [from(b.getWest()) * step, to(b.getEast()) * step];
  // Labels only where they fit: not under the top row of longitudes, not past the right edge.
  const size = map.getSize();
  const px = (lat: number, lon: number) => map.latLngToContainerPoint([lat, lon]);
  for (let i = from(b.getSouth()); i <= to(b.getNorth()); i++) {
    const lat = i * step;
    if (lat < -85 || lat > 85) continue;
    layer.addLayer(L.polyline([[lat, west], [lat, east]], GRID_STYLE));
    const y = px(lat, b.getEast()).y;
    if (y > 36 && y < size.y - 4) layer.addLayer(gridLabel([lat, b.getEast()], graticuleLabel(lat, step, 'lat'), [94, 15], 'right'));
  }
  for (let i = from(b.getWest()); i <= to(b.getEast()); i++) {
    const lon = i * step;
    layer.addLayer(L.polyline([[south, lon], [north, lon]], GRID_STYLE));
    const x = px(b.getNorth(), lon).x;
    if (x > 4 && x < size.x - 100) layer.addLayer(gridLabel([b.getNorth(), lon], graticuleLabel(lon, step, 'lon'), [-4, -4], 'left'));
  }
}

interface View {
  bbox: [number, number, number, number];
  zoom: number;
}

function viewOf(map: L.Map): View {
  const b = map.getBounds();
  return { bbox: [Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()), Math.min(85, b.getNorth())], zoom: map.getZoom() };
}

/**
 * The 地图 / Map tab: active alarms where their devices are, coloured by severity, incident tickets
 * as one marker with their device count, clustered when zoomed out (a click zooms in). On the
 * configured tile source, or without one a plain map (graticule, scale, markers) that needs no
 * tile server. Alarms come from the operator view's stream, so the map is as live as the list.
 */
export function AlarmMap({ api, alerts, reloadKey }: { api: ApiClient; alerts: Alert[]; reloadKey: number }) {
  const { t, lang } = useI18n();
  const [settings, setSettings] = useState<MapSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const [map, setMap] = useState<L.Map | null>(null);
  const [view, setView] = useState<View | null>(null);
  const markersLayer = useRef<L.LayerGroup | null>(null);
  const drawn = useRef(new Map<string, { marker: L.Marker; signature: string }>());
  const fitted = useRef(false);

  useEffect(() => {
    api.consoleSettings().then(
      (s) => setSettings(s.map),
      (err: unknown) => setError(String(err)),
    );
  }, [api]);

  const incidents = useIncidents(api, reloadKey);
  const { points, unplaced } = useMemo(() => mapPoints(alerts, incidents), [alerts, incidents]);
  const maxZoom = settings?.tiles?.maxZoom ?? 18;
  const index = useMemo(() => new MarkerIndex(points, { maxZoom: maxZoom - 2 }), [points, maxZoom]);

  // The Leaflet map, once the settings say what to draw it on.
  useEffect(() => {
    if (!settings || !container.current) return undefined;
    const m = L.map(container.current, { minZoom: 3, maxZoom, attributionControl: settings.tiles !== null, zoomSnap: 1 });
    if (settings.tiles) {
      L.tileLayer(settings.tiles.urlTemplate, { subdomains: settings.tiles.subdomains, maxZoom, attribution: settings.tiles.attribution }).addTo(m);
    } else {
      const grid = L.layerGroup().addTo(m);
      m.on('moveend', () => drawGraticule(m, grid));
    }
    L.control.scale({ imperial: false, maxWidth: 160 }).addTo(m);
    markersLayer.current = L.layerGroup().addTo(m);
    m.on('moveend', () => setView(viewOf(m)));
    const center = settings.center;
    m.setView(center ? [center.lat, center.lon] : FALLBACK_VIEW.center, center ? settings.zoom : FALLBACK_VIEW.zoom);
    setMap(m);
    return () => {
      m.remove();
      drawn.current.clear();
      markersLayer.current = null;
      fitted.current = false;
      setMap(null);
    };
  }, [settings, maxZoom]);

  const showAll = (m: L.Map) => {
    if (points.length === 0) return;
    m.fitBounds(L.latLngBounds(points.map((p) => [p.lat, p.lon] as L.LatLngTuple)), { padding: [48, 48], maxZoom: maxZoom - 2 });
  };
  // The first alarms to arrive frame the view; after that the operator's pan and zoom stay.
  useEffect(() => {
    if (!map || fitted.current || points.length === 0) return;
    fitted.current = true;
    showAll(map);
  }, [map, points]);

  // Markers for what is in view: kept while unchanged, so an open popup survives a new alarm elsewhere.
  useEffect(() => {
    const layer = markersLayer.current;
    if (!map || !layer || !view) return;
    const next = new Map<string, { marker: L.Marker; signature: string }>();
    for (const mk of index.markers(view.bbox, view.zoom)) {
      const key = mk.type === 'cluster' ? `cluster:${mk.lat},${mk.lon}` : mk.point.key;
      const signature =
        mk.type === 'cluster'
          ? `${mk.alarms}:${mk.severity}:${mk.id}`
          : mk.point.kind === 'incident'
            ? `${mk.point.severity}:${mk.point.deviceCount}:${mk.point.lat},${mk.point.lon}:${lang}`
            : `${mk.point.alerts.map((x) => `${x.id}/${x.seen ? 1 : 0}`).join(',')}:${mk.point.lat},${mk.point.lon}:${lang}`;
      const kept = drawn.current.get(key);
      if (kept && kept.signature === signature) {
        next.set(key, kept);
        drawn.current.delete(key);
        continue;
      }
      const { el, size } = markerElement(mk, lang);
      const at: L.LatLngTuple = mk.type === 'cluster' ? [mk.lat, mk.lon] : [mk.point.lat, mk.point.lon];
      const marker = L.marker(at, { icon: L.divIcon({ html: el, className: 'map-icon', iconSize: [size, size] }) });
      if (mk.type === 'cluster') marker.on('click', () => map.setView(at, Math.min(index.expansionZoom(mk.id), maxZoom)));
      else marker.bindPopup(popupElement(mk.point, lang), { minWidth: 200 });
      layer.addLayer(marker);
      next.set(key, { marker, signature });
    }
    for (const gone of drawn.current.values()) layer.removeLayer(gone.marker);
    drawn.current = next;
  }, [map, view, index, lang]);

  const tiles = settings?.tiles ? 'xyz' : 'none';
  const unplacedDevices = useMemo(() => {
    const byDevice = new Map<string, string[]>();
    for (const a of unplaced) (byDevice.get(a.deviceId) ?? byDevice.set(a.deviceId, []).get(a.deviceId)!).push(a.condition);
    return [...byDevice];
  }, [unplaced]);
  return (
    <section class="map-layout">
      <div class="map-frame">
        <div class="toolbar map-toolbar">
          <span>
            <strong data-testid="map-on-map">{points.reduce((n, p) => n + p.alerts.length, 0)}</strong> {t('map.onMap')}
          </span>
          <button type="button" onClick={() => map && showAll(map)} disabled={!map || points.length === 0}>
            {t('map.showAll')}
          </button>
          {settings && !settings.tiles && (
            <span class="map-note muted small" data-testid="map-plain-note">
              {t('map.plain')}
            </span>
          )}
        </div>
        {error && <p class="error">{t('failed')}: {error}</p>}
        <div ref={container} class={`alarm-map ${tiles === 'none' ? 'plain' : 'tiled'}`} data-testid="alarm-map" data-tiles={tiles} data-zoom={view ? String(view.zoom) : ''} />
        {settings && points.length === 0 && <div class="map-empty muted">{t('map.empty')}</div>}
      </div>
      <aside class="map-side card">
        <h3>{t('map.legend')}</h3>
        <ul class="plain map-legend">
          {(['critical', 'high', 'medium', 'low'] as const).map((s) => (
            <li key={s}>
              <span class={`map-marker sev-${s}`} /> {t(`severity.${s}`)}
            </li>
          ))}
          <li>
            <span class="map-marker sev-critical legend-count">2</span> {t('map.deviceAlarms')}
          </li>
          <li>
            <span class="map-cluster sev-high legend">9</span> {t('map.cluster')}
          </li>
          <li>
            <span class="map-incident sev-medium legend">×12</span> {t('map.incident')}
          </li>
        </ul>
        {unplaced.length > 0 && (
          <details data-testid="map-unplaced" data-count={unplaced.length}>
            <summary>
              {unplaced.length} {t('map.unplaced')}
            </summary>
            <ul class="fold">
              {unplacedDevices.slice(0, 50).map(([deviceId, conditions]) => (
                <li key={deviceId}>
                  <a href={`#/device/${encodeURIComponent(deviceId)}`}>{deviceId}</a>{' '}
                  <span class="muted">{conditions.map((c) => conditionLabel(c, lang).name).join('、')}</span>
                </li>
              ))}
            </ul>
          </details>
        )}
      </aside>
    </section>
  );
}
