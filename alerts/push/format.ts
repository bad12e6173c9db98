import type { Person } from '../oncall/directory.ts';
import type { Notice } from '../tickets/notice.ts';

/** Push texts: the Notice already carries zh-CN and English; these put them in each channel's shape. */

/** The ticket, or for an alarm pushed ahead of its ticket the alerts it will be opened for. */
const reference = (n: Notice) => (n.ticketId ? `工单 Ticket: ${n.ticketId}` : `告警 Alert: ${([] as unknown[]).concat(n.data.alertIds ?? []).join(', ')}`);
const to = (p: Person) => `致 To: ${p.name}${p.phone ? ` (${p.phone})` : ''}`;

/**
 * One line, both languages: the e-mail subject and the card title. A notice's title already
 * leads with its one priority word (【紧急】 / [EMERGENCY]); nothing is added here.
 */
export function subjectLine(n: Notice): string {
  return `${n.title['zh-CN']} / ${n.title.en}`;
}

export function plainText(n: Notice, recipient: Person): string {
  return [
    n.title['zh-CN'],
    n.title.en,
    to(recipient),
    '',
    n.body['zh-CN'],
    '',
    n.body.en,
    '',
    reference(n),
    ...(n.url ? [`链接 Link: ${n.url}`] : []),
  ].join('\n');
}

/** Markdown as the WeCom, DingTalk and Feishu robots render it (headings, bold, quotes, links). */
export function markdownText(n: Notice, recipient: Person): string {
  return [
    `### ${n.title['zh-CN']}`,
    `**${n.title.en}**`,
    '',
    `> ${to(recipient)}`,
    '',
    n.body['zh-CN'],
    '',
    n.body.en,
    '',
    reference(n),
    ...(n.url ? ['', `[打开工单 Open ticket](${n.url})`] : []),
  ].join('\n');
}
