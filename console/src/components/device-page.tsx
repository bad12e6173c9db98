import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, type Alert, type ApiClient, type Device, type DeviceReadings, type Lang, type ReadingPointView } from '../api.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { pickLang } from '../messages.ts';
import { SeverityBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';
import { ReadingsChart, type ReadingPoint } from './readings-chart.tsx';

const HOUR = 3_600_000;
/** The range picker: how far back the chart reaches from now. */
const RANGES = { '1h': HOUR, '24h': 24 * HOUR, '7d': 7 * 24 * HOUR } as const;
type Range = keyof typeof RANGES;
/** How often the device (last seen, alerts) is asked again; the history follows when it reported. */
const POLL_MS = 2_000;
/** The history is also asked again this often, for devices whose last-seen time the API does not know (ROLE=alerts). */
const HISTORY_REFRESH_MS = 30_000;

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
 * One device: its record, alerts, and a chart of its readings over the chosen range from
 * `GET /devices/:id/readings` (the local history or InfluxDB), asked again whenever the device
 * reports and every HISTORY_REFRESH_MS.
 */
function DeviceDetail({ api, deviceId }: { api: ApiClient; deviceId: string }) {
  const { t, lang } = useI18n();
  const [device, setDevice] = useState<Device | null>(null);
  const [range, setRange] = useState<Range>('24h');
  const [history, setHistory] = useState<DeviceReadings | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);
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

  const chartPoints = useMemo(() => history?.points.map(pointOf) ?? [], [history]);
  const lastSeenAt = device?.lastSeenAt;
  useEffect(() => {
    let stale = false;
    const load = async () => {
      const toMs = Date.now();
      try {
        const h = await api.readings(deviceId, toMs - RANGES[range], toMs);
        if (stale) return;
        setHistory(h);
        setHistoryError(null);
      } catch (err) {
        // The device is known (its page loaded): a 404 here means no history is kept.
        if (!stale) setHistoryError(err instanceof ApiError && err.status === 404 ? t('deviceHistoryOff') : String(err));
      }
    };
    void load();
    const timer = setInterval(() => void load(), HISTORY_REFRESH_MS);
    return () => {
      stale = true;
      clearInterval(timer);
    };
  }, [api, deviceId, range, lastSeenAt]);

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
        <div class="toolbar">
          <h3>{t('deviceReadings')}</h3>
          <span class="range-picker" role="group">
            {(Object.keys(RANGES) as Range[]).map((r) => (
              <button type="button" key={r} data-testid={`range-${r}`} class={r === range ? 'active' : ''} aria-pressed={r === range} onClick={() => setRange(r)}>
                {t(`range.${r}`)}
              </button>
            ))}
          </span>
        </div>
        <p class="muted small">
          {t('deviceReadingsHint')}
          {history && <> {t(`source.${history.source}`)}{history.bucketMs !== null && ` · ${t('deviceBucket')} ${formatSpan(history.bucketMs, lang)}`}</>}
        </p>
        {historyError ? (
          <p class="muted">{historyError}</p>
        ) : history && chartPoints.length > 0 ? (
          <ReadingsChart points={chartPoints} fromMs={Date.parse(history.from)} toMs={Date.parse(history.to)} statusLabel={t('deviceStatusTokens')} />
        ) : (
          history && <p class="muted" data-testid="readings-empty">{t('deviceNoReading')}</p>
        )}
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

/** An API point as the chart takes it: its time, its numbers, its status tokens. */
function pointOf(p: ReadingPointView): ReadingPoint {
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(p)) if (typeof v === 'number' && Number.isFinite(v)) values[k] = v;
  return { at: Date.parse(p.at), values, status: p.status };
}

/** A bucket width as the control room reads it: 67 s, 15 min, 2 h. */
function formatSpan(ms: number, lang: Lang): string {
  const [n, unit] = ms >= HOUR ? [ms / HOUR, lang === 'zh-CN' ? ' 小时' : ' h'] : ms >= 60_000 ? [ms / 60_000, lang === 'zh-CN' ? ' 分钟' : ' min'] : [ms / 1000, lang === 'zh-CN' ? ' 秒' : ' s'];
  return `${Math.round(n * 10) / 10}${unit}`;
}
