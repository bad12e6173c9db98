import { COMPLAINT_CLASS_NAMES, COMPLAINT_KIND_NAMES, TICKET_ORIGIN_NAMES } from '../../alerts/catalog/messages.ts';
import type { Lang, Ticket } from './api.ts';

/** What a person's ticket is, from the catalog the pushes use: 报修, 有效投诉, 沟通性投诉（咨询）. */
export function caseLabel(ticket: Pick<Ticket, 'origin' | 'complaintClass' | 'complaintKind'>, lang: Lang): string {
  if (ticket.origin !== 'complaint' || !ticket.complaintClass) return TICKET_ORIGIN_NAMES[ticket.origin][lang];
  const c = COMPLAINT_CLASS_NAMES[ticket.complaintClass][lang];
  const k = ticket.complaintKind ? COMPLAINT_KIND_NAMES[ticket.complaintKind][lang] : undefined;
  return k ? (lang === 'zh-CN' ? `${c}（${k}）` : `${c} (${k})`) : c;
}
