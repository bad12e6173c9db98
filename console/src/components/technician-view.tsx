import { useEffect, useState } from 'preact/hooks';
import type { ApiClient, Me, Text, Ticket } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { useEventStream } from '../live.ts';
import { LiveIndicator } from './live-indicator.tsx';
import { NotificationToggle, notify } from './notifications.tsx';
import { PhonePushToggle } from './phone-push.tsx';
import { TechTicketCard } from './tech-ticket-card.tsx';

/** The notice kinds the person stream sends (alerts/tickets/notice.ts). */
const NOTICE_KINDS = ['alarm.raised', 'ticket.opened', 'ticket.dispatched', 'ticket.escalated', 'ticket.priority_raised', 'ticket.sla_breached', 'ticket.reopened', 'ticket.follow_up_due', 'customer.notice'] as const;

interface PushedNotice {
  id: string;
  kind: string;
  /** Empty on a leak pushed ahead of its ticket. */
  ticketId: string;
  title: Text;
  body: Text;
  data: { deviceId?: string };
}

const linkedTicket = (hash: string): string | undefined => /^#\/tickets\/([^/]+)$/.exec(hash)?.[1];

/** A leak's ticket follows its push by moments: the list is read again until it shows, this often. */
const TICKET_FOLLOWS_MS = 1_000;
const TICKET_FOLLOWS_TRIES = 10;

/**
 * The technician's phone view: their open tickets, reloaded whenever a notice arrives on their
 * live stream, which also raises a browser notification.
 */
export function TechnicianView({ api, me }: { api: ApiClient; me: Me }) {
  const { t, lang } = useI18n();
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // A push's link (#/tickets/T000042) opens the list on that ticket.
  const [linked, setLinked] = useState(() => linkedTicket(location.hash));
  useEffect(() => {
    const onChange = () => setLinked(linkedTicket(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);

  const reload = (): Promise<Ticket[] | undefined> =>
    api.tickets().then(
      (items) => {
        setTickets(items);
        setError(null);
        return items;
      },
      (err: unknown) => {
        setError(String(err));
        return undefined;
      },
    );
  const onNotice = (data: unknown) => {
    const n = data as PushedNotice;
    notify(n.title[lang], n.body[lang], n.id);
    const deviceId = n.kind === 'alarm.raised' ? n.data.deviceId : undefined;
    const awaitTicket = (tries: number): void => {
      void reload().then((items) => {
        if (deviceId && tries > 1 && !items?.some((tk) => tk.deviceId === deviceId || tk.devices.includes(deviceId))) setTimeout(() => awaitTicket(tries - 1), TICKET_FOLLOWS_MS);
      });
    };
    awaitTicket(TICKET_FOLLOWS_TRIES);
  };
  const live = useEventStream(me.personId ? api.streamUrl('/stream') : null, {
    onOpen: () => void reload(),
    events: Object.fromEntries(NOTICE_KINDS.map((k) => [k, onNotice])),
  });
  // Without a person there is no stream, so nothing else would load the list.
  if (!me.personId) return <p class="error card">{t('noPerson')}</p>;

  return (
    <div class="technician">
      <div class="toolbar">
        <h2>{t('myTickets')}</h2>
        <LiveIndicator state={live} />
        <NotificationToggle />
        <PhonePushToggle api={api} />
      </div>
      {error && <p class="error">{t('failed')}: {error}</p>}
      {tickets === null && <p class="muted">{t('loading')}</p>}
      {tickets?.length === 0 && <p class="muted card" data-testid="my-tickets-empty">{t('myTicketsEmpty')}</p>}
      {tickets?.map((tk) => <TechTicketCard key={tk.id} api={api} ticket={tk} onChanged={reload} focused={tk.id === linked} />)}
    </div>
  );
}
