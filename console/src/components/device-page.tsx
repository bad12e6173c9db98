import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Alert, type ApiClient, type Device } from '../api.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { pickLang } from '../messages.ts';
import { SeverityBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';
import { ReadingsChart, type ReadingPoint } from './readings-chart.tsx';

/** How often the device page asks for the latest reading; the API keeps no history to ask for. */
const POLL_MS = 2_000;
/** Points kept per device page: an hour at one a poll. */
const MAX_POINTS = 1_800;

export function DevicePage({ api, deviceId }: { api: ApiClient; deviceId: string }) {
  const { t } = useI18n();
  const [input, setInput] = useState(deviceId);
  useEffect(() => setInput(deviceId), [deviceId]);
  const go = (e: Event) => {
    e.preventDefault();
    if (input.trim()) location.hash = `#/device/${encodeURIComponent(input.trim())}`;
  };
  return (
    <section>
      <form class="toolbar" onSubmit={go}>
        <input name="deviceId" placeholder={t('deviceSearch')} value={input} onInput={(e) => setInput(e.currentTarget.value)} />
        <button type="submit">{t('open')}</button>
      </form>
      {deviceId && <DeviceDetail key={deviceId} api={api} deviceId={deviceId} />}
    </section>
  );
}

/**
 * One device: its record, latest reading, alerts, and a chart of the readings seen while the page
 * is open. `GET /devices/:id` has the last reading only, so the chart is built by asking again
 * every POLL_MS and keeping each reading with a new timestamp.
 */
function DeviceDetail({ api, deviceId }: { api: ApiClient; deviceId: string }) {
  const { t, lang } = useI18n();
  const [device, setDevice] = useState<Device | null>(null);
  const [points, setPoints] = useState<ReadingPoint[]>([]);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    const load = async () => {
      try {
        const d = await api.device(deviceId);
        if (stale) return;
        setDevice(d);
        setError(null);
        const point = pointOf(d.lastReading);
        if (point) setPoints((ps) => (ps.some((p) => p.at === point.at) ? ps : [...ps, point].sort((a, b) => a.at - b.at).slice(-MAX_POINTS)));
      } catch (err) {
        if (!stale) setError(err instanceof ApiError && err.status === 404 ? `${deviceId}: 404` : String(err));
      }
    };
    void load();
    api.alertsOf(deviceId).then((items) => !stale && setAlerts(items), () => undefined);
    const timer = setInterval(() => void load(), POLL_MS);
    return () => {
      stale = true;
      clearInterval(timer);
    };
  }, [api, deviceId]);

  if (error) return <p class="error">{t('failed')}: {error}</p>;
  if (!device) return <p class="muted">{t('loading')}</p>;
  const record = device.record ?? {};
  return (
    <div class="device" data-testid="device">
      <article class="card">
        <h2 class="mono">{device.deviceId}</h2>
        <dl>
          <dt>{t('deviceKind')}</dt>
          <dd class="mono">{device.kind}{!device.registered && ` · ${t('deviceUnregistered')}`}</dd>
          <dt>{t('col.district')}</dt>
          <dd>{String(record.district ?? '—')}</dd>
          <dt>{t('col.address')}</dt>
          <dd>{String(record.address ?? '—')}</dd>
          <dt>{t('deviceLastSeen')}</dt>
          <dd>{formatTime(device.lastSeenAt, lang)}</dd>
          <dt>{t('deviceActive')}</dt>
          <dd class="mono">{device.activeConditions.join(' ') || '—'}</dd>
        </dl>
      </article>
      <article class="card">
        <h3>{t('deviceReadings')}</h3>
        <p class="muted small">{t('deviceReadingsHint')}</p>
        {points.length > 0 ? <ReadingsChart points={points} /> : <p class="muted">{t('deviceNoReading')}</p>}
        {device.lastReading && (
          <details>
            <summary>{t('deviceLastReading')}</summary>
            <pre>{JSON.stringify(device.lastReading, null, 2)}</pre>
          </details>
        )}
      </article>
      <article class="card">
        <h3>{t('deviceAlerts')}</h3>
        <ul class="plain">
          {alerts.map((a) => (
            <li key={a.id}>
              <SeverityBadge severity={a.severity} /> <ConditionName condition={a.condition} lang={lang} /> · {formatTime(a.raisedAt, lang)}
              {a.clearedAt && ` → ${formatTime(a.clearedAt, lang)}`} · {pickLang(a.cause, lang)}
            </li>
          ))}
        </ul>
      </article>
    </div>
  );
}

/** The numeric fields of a reading (lelPct, volumeM3, batteryV, …) at its own timestamp. */
function pointOf(reading: Record<string, unknown> | null): ReadingPoint | null {
  if (!reading || typeof reading.at !== 'string') return null;
  const at = Date.parse(reading.at);
  if (Number.isNaN(at)) return null;
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(reading)) if (typeof v === 'number' && Number.isFinite(v)) values[k] = v;
  return Object.keys(values).length > 0 ? { at, values } : null;
}
