import { useState } from 'preact/hooks';
import type { ApiClient, Ticket, TicketAction, TicketStatus } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { ActionForm } from './action-form.tsx';

type StaffAction = Extract<TicketAction, 'dispatch' | 'follow-up' | 'cancel' | 'reopen'>;

/** Which call-centre action each status allows: the server's table (ticket-lifecycle.ts), for showing buttons only. */
const ALLOWED: Record<StaffAction, readonly TicketStatus[]> = {
  dispatch: ['opened', 'dispatched'],
  'follow-up': ['resolved'],
  cancel: ['opened', 'dispatched', 'acknowledged', 'on_site'],
  reopen: ['resolved', 'followed_up', 'closed', 'cancelled'],
};

/** The lifecycle buttons operators and supervisors have; each opens a small form for its fields. */
export function StaffActions({ api, ticket, onDone }: { api: ApiClient; ticket: Ticket; onDone: () => void }) {
  const { t } = useI18n();
  const [open, setOpen] = useState<StaffAction | null>(null);
  const actions = (Object.keys(ALLOWED) as StaffAction[]).filter((a) => ALLOWED[a].includes(ticket.status));
  if (open) {
    return (
      <ActionForm
        api={api}
        ticket={ticket}
        action={open}
        onClose={() => setOpen(null)}
        onDone={() => {
          setOpen(null);
          onDone();
        }}
      />
    );
  }
  return (
    <div class="actions">
      {actions.map((a) => (
        <button type="button" key={a} onClick={() => setOpen(a)} data-testid={`action-${a}`}>
          {t(`action.${a}`)}
        </button>
      ))}
    </div>
  );
}
