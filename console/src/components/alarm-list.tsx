import type { Alert, Lang } from '../api.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { pickLang } from '../messages.ts';
import { SeverityBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'info'];

/** Active alarms, most severe first, newest first within a severity; pushed ones are marked new. */
export function AlarmList({ alerts, fresh }: { alerts: Alert[]; fresh: ReadonlySet<string> }) {
  const { t, lang } = useI18n();
  if (alerts.length === 0) return <p class="muted card" data-testid="alarms-empty">{t('alarmsEmpty')}</p>;
  const sorted = [...alerts].sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || b.raisedAt.localeCompare(a.raisedAt));
  return (
    <table class="grid" data-testid="alarms">
      <thead>
        <tr>
          <th>{t('col.severity')}</th>
          <th>{t('col.condition')}</th>
          <th>{t('col.device')}</th>
          <th class="wide-only">{t('col.gateway')}</th>
          <th>{t('col.since')}</th>
          <th class="wide-only">{t('col.cause')}</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((a) => (
          <tr key={a.id} class={fresh.has(a.id) ? 'fresh' : ''} data-testid="alarm" data-device={a.deviceId} data-condition={a.condition}>
            <td>
              <SeverityBadge severity={a.severity} />
              {fresh.has(a.id) && <span class="badge new">{t('newAlarm')}</span>}
            </td>
            <td>
              <ConditionName condition={a.condition} lang={lang} />
            </td>
            <td>
              <a href={`#/device/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</a>
            </td>
            <td class="wide-only mono">{a.gatewayId}</td>
            <td>{formatTime(a.raisedAt, lang)}</td>
            <td class="wide-only">{pickLang(a.cause, lang)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
