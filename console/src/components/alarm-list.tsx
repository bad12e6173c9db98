import type { Alert } from '../api.ts';
import { alarmRows, choices, isSafety, matchesFilters, type AlarmFilters, type AlarmRow } from '../alarm-filters.ts';
import { conditionLabel } from '../conditions.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { pickLang } from '../messages.ts';
import { SeverityBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';

interface AlarmListProps {
  alerts: Alert[];
  fresh: ReadonlySet<string>;
  filters: AlarmFilters;
  onFilters: (filters: AlarmFilters) => void;
  /** Acknowledge a safety alarm as seen (control room); absent for a view that may not. */
  onSeen?: (alert: Alert) => void;
}

/** Filters kept in the URL: district, severity, condition, gateway, and a search over device, address, customer. */
function FilterBar({ alerts, filters, onFilters, shown }: { alerts: Alert[]; filters: AlarmFilters; onFilters: (f: AlarmFilters) => void; shown: number }) {
  const { t, lang } = useI18n();
  const set = (key: keyof AlarmFilters, value: string) => onFilters({ ...filters, [key]: value || undefined });
  const select = (key: 'district' | 'severity' | 'condition' | 'gateway', field: 'district' | 'severity' | 'condition' | 'gatewayId', label: (v: string) => string) => {
    const values = choices(alerts, field);
    const current = filters[key];
    if (current && !values.includes(current)) values.push(current);
    return (
      <select data-testid={`filter-${key}`} value={current ?? ''} onChange={(e) => set(key, (e.target as HTMLSelectElement).value)}>
        <option value="">{t(`filter.${key}`)}</option>
        {values.map((v) => (
          <option key={v} value={v}>{label(v)}</option>
        ))}
      </select>
    );
  };
  const any = Object.values(filters).some(Boolean);
  return (
    <div class="filters" data-testid="alarm-filters">
      {select('district', 'district', (v) => v)}
      {select('severity', 'severity', (v) => t(`severity.${v}`))}
      {select('condition', 'condition', (v) => conditionLabel(v, lang).name)}
      {select('gateway', 'gatewayId', (v) => v)}
      <input type="search" data-testid="filter-q" placeholder={t('filter.search')} value={filters.q ?? ''} onInput={(e) => set('q', (e.target as HTMLInputElement).value)} />
      {any && <button type="button" class="link" onClick={() => onFilters({})}>{t('filter.clear')}</button>}
      <span class="muted" data-testid="alarms-shown">{t('filter.shown')} {shown} / {alerts.length}</span>
    </div>
  );
}

function Where({ a }: { a: Alert }) {
  return (
    <>
      {a.address ?? '—'}
      {a.customer && <span class="muted"> · {a.customer}</span>}
      {a.district && <div class="muted small">{a.district}</div>}
    </>
  );
}

function Seen({ a, onSeen }: { a: Alert; onSeen?: (a: Alert) => void }) {
  const { t, lang } = useI18n();
  if (a.seen) {
    return (
      <span class="muted small" data-testid="alarm-seen">
        {t('seenBy')} {a.seen.by} {formatTime(a.seen.at, lang)}
      </span>
    );
  }
  if (!isSafety(a) || !onSeen) return null;
  return (
    <button type="button" class="ack" data-testid="alarm-ack" onClick={() => onSeen(a)}>
      {t('seenButton')}
    </button>
  );
}

function AlertRow({ a, fresh, onSeen }: { a: Alert; fresh: boolean; onSeen?: (a: Alert) => void }) {
  const { t, lang } = useI18n();
  return (
    <tr class={fresh ? 'fresh' : ''} data-testid="alarm" data-device={a.deviceId} data-condition={a.condition}>
      <td>
        <SeverityBadge severity={a.severity} />
        {fresh && <span class="badge new">{t('newAlarm')}</span>}
        {a.late && <span class="badge late">{t('lateAlarm')}</span>}
      </td>
      <td>
        <ConditionName condition={a.condition} lang={lang} />
      </td>
      <td>
        <a href={`#/device/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</a>
      </td>
      <td data-testid="alarm-address">
        <Where a={a} />
      </td>
      <td class="wide-only mono">{a.gatewayId}</td>
      <td>{formatTime(a.raisedAt, lang)}</td>
      <td>
        <Seen a={a} {...(onSeen ? { onSeen } : {})} />
      </td>
      <td class="wide-only">{pickLang(a.cause, lang)}</td>
    </tr>
  );
}

/** A fold of one condition behind one gateway: one row with the count, its devices listed when opened. */
function GroupRow({ row }: { row: Extract<AlarmRow, { type: 'group' }> }) {
  const { t, lang } = useI18n();
  const newest = row.alerts[0]!;
  return (
    <tr data-testid="alarm-group" data-condition={row.condition} data-gateway={row.gatewayId} data-count={row.alerts.length}>
      <td>
        <SeverityBadge severity={row.severity} />
      </td>
      <td>
        <ConditionName condition={row.condition} lang={lang} />
        <span class="badge">× {row.alerts.length}</span>
      </td>
      <td colSpan={2}>
        <details>
          <summary>
            {row.alerts.length} {t('fold.devices')} · {t('fold.show')}
          </summary>
          <ul class="fold">
            {row.alerts.map((a) => (
              <li key={a.id}>
                <a href={`#/device/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</a> <span class="muted">{a.address ?? ''}</span>
              </li>
            ))}
          </ul>
        </details>
      </td>
      <td class="wide-only mono">{row.gatewayId}</td>
      <td>{formatTime(newest.raisedAt, lang)}</td>
      <td />
      <td class="wide-only">{pickLang(newest.cause, lang)}</td>
    </tr>
  );
}

/**
 * Active alarms, most severe first, newest first within a severity; pushed ones are marked new,
 * late ones 迟报. Many of one condition behind one gateway fold into one row; leaks never fold. A
 * safety alarm nobody has acknowledged has the button that stops the control room's sound.
 */
export function AlarmList({ alerts, fresh, filters, onFilters, onSeen }: AlarmListProps) {
  const { t } = useI18n();
  if (alerts.length === 0) return <p class="muted card" data-testid="alarms-empty">{t('alarmsEmpty')}</p>;
  const shown = alerts.filter((a) => matchesFilters(a, filters));
  const rows = alarmRows(shown);
  return (
    <>
      <FilterBar alerts={alerts} filters={filters} onFilters={onFilters} shown={shown.length} />
      <table class="grid" data-testid="alarms">
        <thead>
          <tr>
            <th>{t('col.severity')}</th>
            <th>{t('col.condition')}</th>
            <th>{t('col.device')}</th>
            <th>{t('col.where')}</th>
            <th class="wide-only">{t('col.gateway')}</th>
            <th>{t('col.since')}</th>
            <th>{t('col.seen')}</th>
            <th class="wide-only">{t('col.cause')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) =>
            row.type === 'group' ? <GroupRow key={row.key} row={row} /> : <AlertRow key={row.alert.id} a={row.alert} fresh={fresh.has(row.alert.id)} {...(onSeen ? { onSeen } : {})} />,
          )}
        </tbody>
      </table>
    </>
  );
}
