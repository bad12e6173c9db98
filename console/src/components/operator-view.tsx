import { useEffect, useMemo, useState } from 'preact/hooks';
import { filtersFromHash, hashWithFilters, type AlarmFilters } from '../alarm-filters.ts';
import { needsSound } from '../alarm-sound.ts';
import type { Alert, ApiClient } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { useEventStream } from '../live.ts';
import { hashOfReport, reportRouteFromHash, type ReportRoute } from '../report-tables.ts';
import { hashWithTicketFilters, ticketFiltersFromHash, type TicketFilters } from '../ticket-filters.ts';
import { AlarmList } from './alarm-list.tsx';
import { AlarmMap } from './alarm-map.tsx';
import { AlarmSoundControl } from './alarm-sound-control.tsx';
import { CustomerNotices } from './customer-notices.tsx';
import { DevicePage } from './device-page.tsx';
import { LiveIndicator } from './live-indicator.tsx';
import { NewTicketForm, newTicketLabel } from './new-ticket-form.tsx';
import { OnCallPanel } from './oncall-panel.tsx';
import { ReportsPage } from './reports-page.tsx';
import { TicketQueue } from './ticket-queue.tsx';

type Route =
  | { tab: 'alarms'; filters: AlarmFilters }
  | { tab: 'map' }
  | { tab: 'tickets'; ticketId?: string; filters: TicketFilters }
  | { tab: 'oncall' }
  | { tab: 'device'; deviceId: string }
  | { tab: 'customer-notices' }
  | { tab: 'new-ticket' }
  | { tab: 'reports'; report: ReportRoute };

function parseHash(hash: string): Route {
  const [tab, id] = hash.replace(/^#\/?/, '').split('?')[0]!.split('/');
  // #/tickets/T000042: the link every push carries opens the queue on that ticket.
  if (tab === 'tickets') return { tab, filters: ticketFiltersFromHash(hash), ...(id ? { ticketId: decodeURIComponent(id) } : {}) };
  if (tab === 'reports') return { tab, report: reportRouteFromHash(hash) };
  if (tab === 'oncall') return { tab };
  if (tab === 'map') return { tab };
  if (tab === 'customer-notices') return { tab };
  if (tab === 'new-ticket') return { tab };
  if (tab === 'device') return { tab, deviceId: decodeURIComponent(id ?? '') };
  return { tab: 'alarms', filters: filtersFromHash(hash) };
}

/** Hash routes (#/tickets, #/device/HA-1): the server serves one page, links still work. */
function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/**
 * The control room: live alarms as a list and on a map, the ticket queue, on call now, device
 * pages, reports. The alarm stream stays open on every tab, so the tab's count is live and the
 * queue reloads when an alarm opens or changes a ticket.
 */
export function OperatorView({ api }: { api: ApiClient }) {
  const { t, lang } = useI18n();
  const route = useHashRoute();
  const [alerts, setAlerts] = useState<Map<string, Alert>>(new Map());
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [alertChanges, setAlertChanges] = useState(0);
  const [error, setError] = useState<string | null>(null);

  const reload = () =>
    api.activeAlerts().then(
      (items) => {
        setAlerts(new Map(items.map((a) => [a.id, a])));
        setError(null);
      },
      (err: unknown) => setError(String(err)),
    );
  const live = useEventStream(api.streamUrl('/stream/alerts'), {
    // Opened first, then read: a raise between the two arrives on the stream.
    onOpen: () => void reload(),
    events: {
      'alert.raised': (data) => {
        const a = data as Alert;
        setAlerts((m) => new Map(m).set(a.id, a));
        setFresh((s) => new Set(s).add(a.id));
        setAlertChanges((n) => n + 1);
      },
      // An operator (this desk or another) acknowledged it: the sound stops everywhere.
      'alert.seen': (data) => {
        const a = data as Alert;
        setAlerts((m) => (m.has(a.id) ? new Map(m).set(a.id, a) : m));
      },
      'alert.cleared': (data) => {
        const a = data as Alert;
        setAlerts((m) => {
          const next = new Map(m);
          next.delete(a.id);
          return next;
        });
        setAlertChanges((n) => n + 1);
      },
    },
  });

  // One array per change of the alarms, so the map re-clusters only when they change.
  const alertList = useMemo(() => [...alerts.values()], [alerts]);

  const markSeen = (a: Alert) =>
    api.markSeen(a.id).then(
      (seen) => setAlerts((m) => (m.has(seen.id) ? new Map(m).set(seen.id, seen) : m)),
      (err: unknown) => setError(String(err)),
    );

  // Filters and report periods live in the URL; replaced, not pushed, so typing a search does not fill the back button.
  const replaceHash = (hash: string) => {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  };

  const tab = (name: Route['tab'], label: string) => (
    <a href={`#/${name}`} class={route.tab === name ? 'tab active' : 'tab'} data-testid={`tab-${name}`}>
      {label}
    </a>
  );
  return (
    <div class="operator">
      <nav class="tabs">
        {tab('alarms', `${t('tab.alarms')} (${alerts.size})`)}
        {tab('map', t('tab.map'))}
        {tab('tickets', t('tab.tickets'))}
        {tab('oncall', t('tab.oncall'))}
        {tab('device', t('tab.device'))}
        {tab('customer-notices', t('tab.customer-notices'))}
        {tab('new-ticket', newTicketLabel(lang))}
        {tab('reports', t('tab.reports'))}
        <LiveIndicator state={live} />
      </nav>
      <AlarmSoundControl needed={needsSound(alerts.values())} />
      {error && <p class="error">{t('failed')}: {error}</p>}
      {route.tab === 'alarms' && (
        <AlarmList alerts={[...alerts.values()]} fresh={fresh} filters={route.filters} onFilters={(f) => replaceHash(hashWithFilters(f))} onSeen={(a) => void markSeen(a)} />
      )}
      {route.tab === 'tickets' && (
        <TicketQueue api={api} reloadKey={alertChanges} filters={route.filters} onFilters={(f) => replaceHash(hashWithTicketFilters(f))} {...(route.ticketId ? { focus: route.ticketId } : {})} />
      )}
      {route.tab === 'map' && <AlarmMap api={api} alerts={alertList} reloadKey={alertChanges} />}
      {route.tab === 'oncall' && <OnCallPanel api={api} />}
      {route.tab === 'device' && <DevicePage api={api} deviceId={route.deviceId} />}
      {route.tab === 'customer-notices' && <CustomerNotices api={api} />}
      {route.tab === 'new-ticket' && <NewTicketForm />}
      {route.tab === 'reports' && <ReportsPage api={api} route={route.report} onRoute={(r) => replaceHash(hashOfReport(r))} />}
    </div>
  );
}
