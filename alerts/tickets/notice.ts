import type { Text } from '../catalog/manual.ts';

/**
 * Something a person must hear about a ticket: the ticket service decides who and why, the push
 * dispatcher decides how (live stream, webhook robots, e-mail) and reports back what failed.
 */
export interface Notice {
  /** Stable id: a redelivered notice is not pushed twice. */
  id: string;
  kind: 'alarm.raised' | 'ticket.opened' | 'ticket.dispatched' | 'ticket.escalated' | 'ticket.priority_raised' | 'ticket.sla_breached' | 'ticket.reopened' | 'ticket.follow_up_due' | 'customer.notice';
  /** Empty on an alarm pushed before its ticket exists (`data.alertIds` names the alerts). */
  ticketId: string;
  /** Person ids to reach. */
  recipients: string[];
  priority: 'emergency' | 'urgent' | 'normal' | 'low';
  /** Title and body, zh-CN first with English beside. */
  title: Text;
  body: Text;
  /** Link for the technician's app. */
  url?: string;
  /** Ticket facts for machine consumers (webhook JSON). */
  data: Record<string, unknown>;
  createdAtMs: number;
}

/** What became of one notice on one channel to one recipient. */
export interface DeliveryOutcome {
  noticeId: string;
  recipientId: string;
  channel: string;
  /** `failed` means retries are exhausted: the ticket service escalates. */
  status: 'delivered' | 'failed';
  error?: string;
  attempts: number;
  atMs: number;
}
