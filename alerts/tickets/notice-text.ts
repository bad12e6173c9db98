import type { Condition } from '../../contracts/messages.ts';
import type { Text } from '../catalog/manual.ts';
import { clockName, conditionName, TICKET_ORIGIN_NAMES } from '../catalog/messages.ts';
import { PRIORITY_RANK, type Priority } from '../sla/sla-policy.ts';
import type { Alert } from '../alert-book.ts';
import type { Notice } from './notice.ts';
import { isPreventive, priorityOf } from './priority.ts';
import type { Ticket } from './ticket.ts';

/** Push texts, zh-CN first with English beside, built from the alert catalog. */

const t = (zh: string, en: string): Text => ({ 'zh-CN': zh, en });

export const PRIORITY_NAMES: Readonly<Record<Priority, Text>> = {
  emergency: t('紧急', 'EMERGENCY'),
  urgent: t('加急', 'URGENT'),
  normal: t('普通', 'normal'),
  low: t('低', 'low'),
};

const LEVEL_NAMES: Readonly<Record<string, Text>> = {
  technician: t('值班技术员', 'on-call technician'),
  repeat: t('值班技术员（再次通知）', 'on-call technician (repeat)'),
  supervisor: t('主管', 'supervisor'),
  director: t('经理', 'director'),
};

function conditionsText(conditions: readonly Condition[]): Text {
  const names = conditions.map(conditionName);
  return t(names.map((n) => n['zh-CN']).join('、') || '—', names.map((n) => n.en).join(', ') || '—');
}

function subjectText(ticket: Ticket): Text {
  if (ticket.subject === 'customer') {
    // A person's case: who to call and where, not a device.
    const who = ticket.contact ? `${ticket.contact.name} ${ticket.contact.phone}` : (ticket.customer ?? '');
    const dev = ticket.deviceId ? ` · ${ticket.deviceId}` : '';
    return t(`${who} 地址：${ticket.address ?? '—'}${dev}`, `${who} address: ${ticket.address ?? '—'}${dev}`);
  }
  if (ticket.subject === 'gateway') {
    // The gateway's site: its devices' customers are many, none of them is the gateway's.
    const n = ticket.devices.length;
    const site = ticket.address;
    return t(`网关 ${ticket.subjectId}（${n} 台设备）${site ? ` 站点：${site}` : ''}`, `gateway ${ticket.subjectId} (${n} devices)${site ? ` site: ${site}` : ''}`);
  }
  const place = [ticket.address, ticket.customer].filter(Boolean).join(' · ');
  if (ticket.subject === 'district') {
    const n = ticket.devices.length;
    return t(`片区 ${ticket.subjectId}（${n} 台设备）`, `district ${ticket.subjectId} (${n} devices)`);
  }
  return t(`设备 ${ticket.subjectId}${place ? ` ${place}` : ''}`, `device ${ticket.subjectId}${place ? ` ${place}` : ''}`);
}

/** Title line and the manual's first entry (cause, remedy, card, parts) for the worst condition. */
function ticketBody(ticket: Ticket, lead: Text, ctx: NoticeContext): Text {
  const subject = subjectText(ticket);
  const m = ticket.manual[0];
  const origin = TICKET_ORIGIN_NAMES[ticket.origin];
  const cond = ticket.origin === 'alert' ? conditionsText(ticket.activeConditions.length ? ticket.activeConditions : ticket.conditions) : undefined;
  const preventive = ticket.origin === 'alert' && isPreventive(ticket.conditions);
  const what = cond
    ? preventive
      ? t(`预防性维护（非故障）：${cond['zh-CN']}`, `Preventive maintenance (not a fault): ${cond.en}`)
      : t(`故障：${cond['zh-CN']}`, `Fault: ${cond.en}`)
    : t(`${origin['zh-CN']}：${ticket.description ?? '—'}`, `${origin.en}: ${ticket.description ?? '—'}`);
  const zh = [lead['zh-CN'], what['zh-CN'], subject['zh-CN']];
  const en = [lead.en, what.en, subject.en];
  if (m) {
    zh.push(`原因：${m.cause['zh-CN']}`, `排除方法：${m.remedy['zh-CN']}`, `工具卡：${m.toolCard['zh-CN']}`);
    en.push(`Cause: ${m.cause.en}`, `Remedy: ${m.remedy.en}`, `Tool card: ${m.toolCard.en}`);
    if (m.parts.length) {
      zh.push(`备件：${m.parts.map((p) => p['zh-CN']).join('、')}`);
      en.push(`Parts: ${m.parts.map((p) => p.en).join(', ')}`);
    }
  }
  if (ticket.slaDueAt) {
    const due = localTime(ticket.slaDueAt, ctx.timeZone);
    zh.push(`时限：${due}`);
    en.push(`Due: ${due}`);
  }
  return t(zh.join('\n'), en.join('\n'));
}

/** A ticket's conditions, the one that sets its priority first (stable for equals). */
function worstFirst(conditions: readonly Condition[]): Condition[] {
  const rank = (c: Condition) => PRIORITY_RANK[priorityOf({ condition: c, severity: 'medium' })];
  return [...conditions].sort((a, b) => rank(b) - rank(a));
}

function title(ticket: Ticket, what: Text): Text {
  const p = PRIORITY_NAMES[ticket.priority];
  const cond = ticket.origin === 'alert' ? conditionsText(worstFirst(ticket.conditions).slice(0, 3)) : TICKET_ORIGIN_NAMES[ticket.origin];
  return t(`【${p['zh-CN']}】${what['zh-CN']} ${ticket.id} ${cond['zh-CN']}`, `[${p.en}] ${what.en} ${ticket.id} ${cond.en}`);
}

function data(ticket: Ticket, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ticketId: ticket.id,
    subject: ticket.subject,
    subjectId: ticket.subjectId,
    deviceId: ticket.deviceId,
    gatewayId: ticket.gatewayId,
    devices: ticket.devices,
    conditions: ticket.conditions,
    activeConditions: ticket.activeConditions,
    priority: ticket.priority,
    status: ticket.status,
    district: ticket.district,
    address: ticket.address,
    customer: ticket.customer,
    assignee: ticket.assignee,
    openedAt: ticket.openedAt,
    slaDueAt: ticket.slaDueAt,
    ...(ticket.origin === 'alert' && isPreventive(ticket.conditions) ? { preventive: true } : {}),
    ...extra,
  };
}

/** The console's hash route of the ticket under `appUrl` (the console's address, e.g. https://host/console/). */
const url = (baseUrl: string | undefined, ticketId: string): { url?: string } => (baseUrl ? { url: `${baseUrl.replace(/\/$/, '')}/#/tickets/${encodeURIComponent(ticketId)}` } : {});

export interface NoticeContext {
  nowMs: number;
  appUrl?: string;
  /** Times in texts are read on a phone in this zone. @defaultValue Asia/Shanghai */
  timeZone?: string;
}

const LOCAL_FORMATS = new Map<string, Intl.DateTimeFormat>();

/** `2026-12-05 05:16 (Asia/Shanghai)`: a time as the technician reads it, not UTC ISO. */
export function localTime(iso: string, timeZone = 'Asia/Shanghai'): string {
  let f = LOCAL_FORMATS.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    LOCAL_FORMATS.set(timeZone, f);
  }
  return `${f.format(new Date(iso))} (${timeZone})`;
}

export function dispatchedNotice(id: string, ticket: Ticket, recipient: string, ctx: NoticeContext): Notice {
  return {
    id,
    kind: 'ticket.dispatched',
    ticketId: ticket.id,
    recipients: [recipient],
    priority: ticket.priority,
    title: title(ticket, t('派工单', 'Work order')),
    body: ticketBody(ticket, t('请接单并尽快到场。', 'Please acknowledge and go on site.'), ctx),
    ...url(ctx.appUrl, ticket.id),
    data: data(ticket),
    createdAtMs: ctx.nowMs,
  };
}

/** What the safety lane knows of a leak before its ticket exists: the alerts and the registry's entry. */
export interface AlarmFacts {
  alerts: ReadonlyArray<Pick<Alert, 'id' | 'condition' | 'severity' | 'subjectId' | 'deviceId' | 'gatewayId' | 'raisedAt' | 'manual' | 'detail' | 'late' | 'delayMs' | 'clearedAt'>>;
  priority: Priority;
  district?: string;
  address?: string;
  customer?: string;
}

/**
 * The push that goes out the moment a leak is in the alert journal; the ticket follows and takes
 * this push as its dispatch, so the technician is not called twice.
 */
export function alarmNotice(id: string, facts: AlarmFacts, recipients: string[], ctx: NoticeContext): Notice {
  const first = facts.alerts[0]!;
  const conditions = facts.alerts.map((a) => a.condition);
  const p = PRIORITY_NAMES[facts.priority];
  const cond = conditionsText(conditions);
  const place = [facts.address, facts.customer].filter(Boolean).join(' · ');
  const m = first.manual;
  const lel = typeof first.detail?.lelPct === 'number' ? first.detail.lelPct : undefined;
  const zh = ['燃气报警，请立即处置：工单随后生成。', `故障：${cond['zh-CN']}`, `设备 ${first.subjectId}${place ? ` ${place}` : ''}${facts.district ? `（${facts.district}）` : ''}`];
  const en = ['Gas alarm, act now: the ticket follows.', `Fault: ${cond.en}`, `device ${first.subjectId}${place ? ` ${place}` : ''}${facts.district ? ` (${facts.district})` : ''}`];
  if (lel !== undefined) {
    zh.push(`浓度：${lel} %LEL`);
    en.push(`Concentration: ${lel} %LEL`);
  }
  // A late or delayed reading's alarm is in the past: say when it happened and that the site still needs checking.
  const reportedLate = first.late === true || first.delayMs !== undefined;
  if (reportedLate) {
    const at = localTime(first.raisedAt, ctx.timeZone);
    const minutes = Math.round((first.delayMs ?? 0) / 60_000);
    zh.push(`迟报：设备于 ${at} 报警，${minutes} 分钟后才送达${first.clearedAt ? `，其后读数已恢复正常` : ''}。请到现场检查。`);
    en.push(`Reported late: the device alarmed at ${at}, delivered ${minutes} min later${first.clearedAt ? '; its later readings are normal' : ''}. Check the site.`);
  }
  zh.push(`排除方法：${m.remedy['zh-CN']}`);
  en.push(`Remedy: ${m.remedy.en}`);
  return {
    id,
    kind: 'alarm.raised',
    ticketId: '',
    recipients,
    priority: facts.priority,
    title: reportedLate
      ? t(`【${p['zh-CN']}】燃气报警（迟报）${first.subjectId} ${cond['zh-CN']}`, `[${p.en}] Gas alarm (reported late) ${first.subjectId} ${cond.en}`)
      : t(`【${p['zh-CN']}】燃气报警 ${first.subjectId} ${cond['zh-CN']}`, `[${p.en}] Gas alarm ${first.subjectId} ${cond.en}`),
    body: t(zh.join('\n'), en.join('\n')),
    data: {
      alertIds: facts.alerts.map((a) => a.id),
      deviceId: first.deviceId,
      gatewayId: first.gatewayId,
      conditions,
      priority: facts.priority,
      district: facts.district ?? null,
      address: facts.address ?? null,
      customer: facts.customer ?? null,
      raisedAt: first.raisedAt,
      ...(reportedLate ? { late: first.late === true, delayMs: first.delayMs ?? null } : {}),
    },
    createdAtMs: ctx.nowMs,
  };
}

/** The ticket became more urgent (a worse condition joined it): the assignee hears it at once. */
export function priorityRaisedNotice(id: string, ticket: Ticket, recipients: string[], from: Priority, condition: Condition, ctx: NoticeContext): Notice {
  const was = PRIORITY_NAMES[from];
  const added = conditionName(condition);
  return {
    id,
    kind: 'ticket.priority_raised',
    ticketId: ticket.id,
    recipients,
    priority: ticket.priority,
    title: title(ticket, t('工单升级为更高优先级', 'Ticket now more urgent')),
    body: ticketBody(ticket, t(`新增故障：${added['zh-CN']}，优先级由「${was['zh-CN']}」提高。`, `New fault: ${added.en}; priority raised from ${was.en}.`), ctx),
    ...url(ctx.appUrl, ticket.id),
    data: data(ticket, { previousPriority: from, condition }),
    createdAtMs: ctx.nowMs,
  };
}

export function reopenedNotice(id: string, ticket: Ticket, recipients: string[], reason: string, ctx: NoticeContext): Notice {
  return {
    id,
    kind: 'ticket.reopened',
    ticketId: ticket.id,
    recipients,
    priority: ticket.priority,
    title: title(ticket, t('工单重开', 'Ticket reopened')),
    body: ticketBody(ticket, t(`工单已重开：${reason}`, `The ticket was reopened: ${reason}`), ctx),
    ...url(ctx.appUrl, ticket.id),
    data: data(ticket, { reason }),
    createdAtMs: ctx.nowMs,
  };
}

export function escalatedNotice(id: string, ticket: Ticket, recipient: string, level: string, reason: string, ctx: NoticeContext): Notice {
  const lvl = LEVEL_NAMES[level] ?? t(level, level);
  const why: Record<string, Text> = {
    no_ack: t('无人接单', 'nobody acknowledged'),
    nobody_on_call: t('本区无人值班', 'nobody is on call in the district'),
    delivery_failed: t('通知发送失败', 'a notice could not be delivered'),
  };
  const r = why[reason] ?? (reason.startsWith('sla_breach:') ? t(`超时：${clockName(reason.slice(11))['zh-CN']}`, `SLA breached: ${clockName(reason.slice(11)).en}`) : t(reason, reason));
  return {
    id,
    kind: 'ticket.escalated',
    ticketId: ticket.id,
    recipients: [recipient],
    priority: ticket.priority,
    title: title(ticket, t(`工单升级（${lvl['zh-CN']}）`, `Escalated (${lvl.en})`)),
    body: ticketBody(ticket, t(`升级原因：${r['zh-CN']}。`, `Escalated because ${r.en}.`), ctx),
    ...url(ctx.appUrl, ticket.id),
    data: data(ticket, { level, reason }),
    createdAtMs: ctx.nowMs,
  };
}

export function breachNotice(id: string, ticket: Ticket, recipients: string[], clock: string, dueAtIso: string, ctx: NoticeContext): Notice {
  const c = clockName(clock);
  return {
    id,
    kind: 'ticket.sla_breached',
    ticketId: ticket.id,
    recipients,
    priority: ticket.priority,
    title: title(ticket, t(`${c['zh-CN']}超时`, `${c.en} SLA breached`)),
    body: ticketBody(ticket, t(`${c['zh-CN']}时限 ${localTime(dueAtIso, ctx.timeZone)} 已过。`, `The ${c.en} limit ${localTime(dueAtIso, ctx.timeZone)} has passed.`), ctx),
    ...url(ctx.appUrl, ticket.id),
    data: data(ticket, { clock, dueAt: dueAtIso }),
    createdAtMs: ctx.nowMs,
  };
}

export function customerNotice(id: string, condition: Condition, deviceId: string, customer: string | null, address: string | null, ctx: NoticeContext, phone?: string): Notice {
  const name = conditionName(condition);
  const zhAsk = condition === 'NO_BALANCE' ? '余额已用完，表已关阀，请尽快购气。' : '余额不足，请及时购气。';
  const enAsk = condition === 'NO_BALANCE' ? 'The prepaid gas is used up and the valve is closed: please buy gas.' : 'The prepaid balance is low: please buy gas soon.';
  return {
    id,
    kind: 'customer.notice',
    ticketId: id,
    recipients: [`customer:${customer ?? deviceId}`],
    priority: 'low',
    title: t(`${name['zh-CN']} ${deviceId}`, `${name.en} ${deviceId}`),
    body: t(`${zhAsk}${address ? `\n地址：${address}` : ''}`, `${enAsk}${address ? `\nAddress: ${address}` : ''}`),
    // Phone and address for a customer SMS: sent to that phone; without one the notice is logged not delivered.
    data: { deviceId, customer, condition, ...(address ? { address } : {}), ...(phone ? { phone } : {}) },
    createdAtMs: ctx.nowMs,
  };
}
