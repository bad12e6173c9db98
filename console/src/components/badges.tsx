import type { Priority, TicketStatus } from '../api.ts';
import { useI18n } from '../i18n.ts';

export function SeverityBadge({ severity }: { severity: string }) {
  const { t } = useI18n();
  return <span class={`badge sev-${severity}`}>{t(`severity.${severity}`)}</span>;
}

export function PriorityBadge({ priority }: { priority: Priority }) {
  const { t } = useI18n();
  return <span class={`badge prio-${priority}`}>{t(`priority.${priority}`)}</span>;
}

export function StatusBadge({ status }: { status: TicketStatus }) {
  const { t } = useI18n();
  return <span class={`badge status-${status}`} data-testid="ticket-status">{t(`status.${status}`)}</span>;
}
