import type { Person } from '../oncall/directory.ts';
import type { Notice } from '../tickets/notice.ts';
import type { SendResult } from './channel.ts';
import type { ChannelInstance, ChannelType } from './channels.ts';

export const technician: Person = { id: 'tech-chen', name: '陈工', role: 'technician', phone: '13900000100', email: 'chen@example.com', webhooks: ['robot'] };

export function notice(overrides: Partial<Notice> = {}): Notice {
  return {
    id: 'N-1',
    kind: 'ticket.dispatched',
    ticketId: 'T000001',
    recipients: [technician.id],
    priority: 'emergency',
    title: { 'zh-CN': '【紧急】二级燃气报警：城东区幸福路12号', en: '[EMERGENCY] Gas alarm, level 2: 12 Xingfu Rd, East' },
    body: { 'zh-CN': '请立即到场，关闭总阀并通风。', en: 'Go on site now, shut the main valve and ventilate.' },
    url: 'https://ops.example.com/tickets/T000001',
    data: { deviceId: 'M-1', district: '城东区' },
    createdAtMs: Date.parse('2026-11-22T08:00:00Z'),
    ...overrides,
  };
}

/** A channel that answers from a script, one entry per call (the last repeats); records its calls. */
export function scriptedChannel(name: string, script: Array<SendResult | Error>, options: { type?: ChannelType; serves?: (p: Person) => boolean } = {}) {
  const calls: Array<{ noticeId: string; recipientId: string }> = [];
  const instance: ChannelInstance = {
    name,
    type: options.type ?? 'webhook',
    serves: options.serves ?? (() => true),
    channel: {
      async send(n, p) {
        const step = script[Math.min(calls.length, script.length - 1)]!;
        calls.push({ noticeId: n.id, recipientId: p.id });
        if (step instanceof Error) throw step;
        return step;
      },
      async close() {},
    },
  };
  return { instance, calls };
}
