import type { Lang, Priority, TicketStatus } from './api.ts';

/**
 * Every text the console shows, zh-CN first with English beside (the control room works in
 * Chinese). Condition titles, causes and remedies are not here: the API sends them in both
 * languages from the repair manual (alerts/catalog/).
 */
const MESSAGES = {
  appTitle: { 'zh-CN': '燃气监控台', en: 'Gas control console' },
  language: { 'zh-CN': 'English', en: '中文' },
  logout: { 'zh-CN': '退出', en: 'Log out' },
  loginTitle: { 'zh-CN': '登录', en: 'Log in' },
  loginHint: { 'zh-CN': '输入管理员发放的 API 令牌。令牌只保存在本标签页中。', en: 'Enter the API token your administrator issued. It is kept in this tab only.' },
  tokenLabel: { 'zh-CN': 'API 令牌', en: 'API token' },
  loginButton: { 'zh-CN': '登录', en: 'Log in' },
  loginRefused: { 'zh-CN': '令牌无效或已吊销', en: 'The token is invalid or revoked' },
  loading: { 'zh-CN': '加载中…', en: 'Loading…' },
  failed: { 'zh-CN': '请求失败', en: 'Request failed' },
  retry: { 'zh-CN': '重试', en: 'Retry' },
  live: { 'zh-CN': '实时', en: 'Live' },
  reconnecting: { 'zh-CN': '重新连接中', en: 'Reconnecting' },
  signedInAs: { 'zh-CN': '当前用户', en: 'Signed in as' },

  'role.admin': { 'zh-CN': '管理员', en: 'Administrator' },
  'role.supervisor': { 'zh-CN': '主管', en: 'Supervisor' },
  'role.operator': { 'zh-CN': '调度员', en: 'Operator' },
  'role.technician': { 'zh-CN': '维修员', en: 'Technician' },

  'tab.alarms': { 'zh-CN': '实时报警', en: 'Live alarms' },
  'tab.tickets': { 'zh-CN': '工单', en: 'Tickets' },
  'tab.oncall': { 'zh-CN': '值班', en: 'On call' },
  'tab.device': { 'zh-CN': '设备', en: 'Device' },
  'tab.customer-notices': { 'zh-CN': '客户通知', en: 'Customer notices' },

  alarmsEmpty: { 'zh-CN': '当前没有报警', en: 'No active alarms' },
  alarmsCount: { 'zh-CN': '条活动报警', en: 'active alarms' },
  newAlarm: { 'zh-CN': '新', en: 'New' },
  'col.severity': { 'zh-CN': '级别', en: 'Severity' },
  'col.condition': { 'zh-CN': '故障', en: 'Condition' },
  'col.device': { 'zh-CN': '设备', en: 'Device' },
  'col.gateway': { 'zh-CN': '网关', en: 'Gateway' },
  'col.since': { 'zh-CN': '开始时间', en: 'Since' },
  'col.cause': { 'zh-CN': '原因', en: 'Cause' },
  'col.priority': { 'zh-CN': '优先级', en: 'Priority' },
  'col.status': { 'zh-CN': '状态', en: 'Status' },
  'col.assignee': { 'zh-CN': '维修员', en: 'Assignee' },
  'col.district': { 'zh-CN': '区域', en: 'District' },
  'col.address': { 'zh-CN': '地址', en: 'Address' },
  'col.slaDue': { 'zh-CN': 'SLA 截止', en: 'SLA due' },
  'col.actions': { 'zh-CN': '操作', en: 'Actions' },

  'severity.critical': { 'zh-CN': '紧急', en: 'Critical' },
  'severity.high': { 'zh-CN': '高', en: 'High' },
  'severity.medium': { 'zh-CN': '中', en: 'Medium' },
  'severity.low': { 'zh-CN': '低', en: 'Low' },
  'severity.info': { 'zh-CN': '提示', en: 'Info' },

  'priority.emergency': { 'zh-CN': '紧急', en: 'Emergency' },
  'priority.urgent': { 'zh-CN': '急', en: 'Urgent' },
  'priority.normal': { 'zh-CN': '普通', en: 'Normal' },
  'priority.low': { 'zh-CN': '低', en: 'Low' },

  'status.opened': { 'zh-CN': '待派工', en: 'Opened' },
  'status.dispatched': { 'zh-CN': '已派工', en: 'Dispatched' },
  'status.acknowledged': { 'zh-CN': '已接单', en: 'Acknowledged' },
  'status.on_site': { 'zh-CN': '已到场', en: 'On site' },
  'status.resolved': { 'zh-CN': '已修复', en: 'Resolved' },
  'status.followed_up': { 'zh-CN': '已回访', en: 'Followed up' },
  'status.closed': { 'zh-CN': '已关闭', en: 'Closed' },
  'status.cancelled': { 'zh-CN': '已取消', en: 'Cancelled' },

  ticketsEmpty: { 'zh-CN': '没有工单', en: 'No tickets' },
  showOpen: { 'zh-CN': '处理中', en: 'Open' },
  showDone: { 'zh-CN': '待回访 / 已结束', en: 'To follow up / done' },
  refresh: { 'zh-CN': '刷新', en: 'Refresh' },
  'action.dispatch': { 'zh-CN': '派工', en: 'Dispatch' },
  'action.follow-up': { 'zh-CN': '回访', en: 'Follow up' },
  'action.cancel': { 'zh-CN': '取消', en: 'Cancel' },
  'action.reopen': { 'zh-CN': '重开', en: 'Reopen' },
  'action.acknowledge': { 'zh-CN': '接单', en: 'Acknowledge' },
  'action.on-site': { 'zh-CN': '已到场', en: 'On site' },
  'action.resolve': { 'zh-CN': '已修复', en: 'Resolve' },
  confirm: { 'zh-CN': '确定', en: 'Confirm' },
  close: { 'zh-CN': '关闭', en: 'Close' },
  assigneeLabel: { 'zh-CN': '派给（人员编号）', en: 'Assign to (person id)' },
  reasonLabel: { 'zh-CN': '原因', en: 'Reason' },
  satisfiedLabel: { 'zh-CN': '客户满意', en: 'Customer satisfied' },
  notesLabel: { 'zh-CN': '备注', en: 'Notes' },
  remedyDoneLabel: { 'zh-CN': '处理内容', en: 'What was done' },
  escalated: { 'zh-CN': '已升级', en: 'Escalated' },

  oncallNow: { 'zh-CN': '当前值班', en: 'On call now' },
  oncallTeam: { 'zh-CN': '班组', en: 'Team' },
  oncallTechnician: { 'zh-CN': '值班维修员', en: 'Technician' },
  oncallShift: { 'zh-CN': '班次', en: 'Shift' },
  oncallSupervisor: { 'zh-CN': '主管', en: 'Supervisor' },
  oncallDirector: { 'zh-CN': '经理', en: 'Director' },
  'shift.on_site': { 'zh-CN': '驻场', en: 'On site' },
  'shift.home': { 'zh-CN': '在家待命', en: 'At home' },
  nobody: { 'zh-CN': '无人', en: 'Nobody' },
  fallbackDistrict: { 'zh-CN': '其他区域', en: 'Other districts' },

  deviceSearch: { 'zh-CN': '设备编号', en: 'Device id' },
  open: { 'zh-CN': '打开', en: 'Open' },
  deviceKind: { 'zh-CN': '类型', en: 'Kind' },
  deviceLastSeen: { 'zh-CN': '最后上报', en: 'Last seen' },
  deviceActive: { 'zh-CN': '活动故障', en: 'Active conditions' },
  deviceUnregistered: { 'zh-CN': '未登记', en: 'Not registered' },
  deviceReadings: { 'zh-CN': '近期读数', en: 'Recent readings' },
  deviceReadingsHint: {
    'zh-CN': 'API 只提供最新读数：图表从本页打开时起每 2 秒记录一次。完整历史见 Grafana。',
    en: 'The API gives the latest reading only: the chart records it every 2 s from when this page opened. Full history is in Grafana.',
  },
  deviceNoReading: { 'zh-CN': '本进程尚未收到该设备的读数', en: 'This process has no reading from this device yet' },
  deviceLastReading: { 'zh-CN': '最新读数', en: 'Latest reading' },
  deviceAlerts: { 'zh-CN': '报警记录', en: 'Alerts' },

  myTickets: { 'zh-CN': '我的工单', en: 'My tickets' },
  myTicketsEmpty: { 'zh-CN': '暂无工单', en: 'No tickets for you' },
  enableNotifications: { 'zh-CN': '开启通知', en: 'Enable notifications' },
  notificationsBlocked: { 'zh-CN': '浏览器已禁止通知', en: 'Notifications are blocked in this browser' },
  noPerson: { 'zh-CN': '此令牌未关联人员，无法接收推送', en: 'This token names no person, so it has no pushes' },
  'phonePush.enable': { 'zh-CN': '开启手机通知', en: 'Enable phone notifications' },
  'phonePush.disable': { 'zh-CN': '关闭手机通知', en: 'Turn off phone notifications' },
  'phonePush.on': { 'zh-CN': '手机通知已开启：控制台关闭时也能收到派单', en: 'Phone notifications on: tickets reach you with the console closed' },
  'phonePush.unsupported': { 'zh-CN': '此浏览器不支持手机通知（iPhone 请先“添加到主屏幕”再从主屏幕打开）', en: 'No phone notifications in this browser (iPhone: Add to Home Screen, then open it from there)' },
  'phonePush.unavailable': { 'zh-CN': '服务器未配置手机通知', en: 'The server has no phone notifications configured' },
  'act.title': { 'zh-CN': '一键处理工单', en: 'One-tap ticket action' },
  'act.working': { 'zh-CN': '正在提交…', en: 'Sending…' },
  'act.done.acknowledge': { 'zh-CN': '已接单', en: 'Acknowledged' },
  'act.done.on_site': { 'zh-CN': '已到场', en: 'On site' },
  'act.ticketStatus': { 'zh-CN': '工单状态', en: 'Ticket status' },
  'act.used': { 'zh-CN': '此链接已用过或已过期，请打开工单查看', en: 'This link was already used or has expired: open the ticket to see where it stands' },
  'act.invalid': { 'zh-CN': '链接无效', en: 'This link is not valid' },
  'act.conflict': { 'zh-CN': '工单当前状态不允许此操作', en: 'The ticket’s current state does not allow this' },
  'act.openConsole': { 'zh-CN': '打开控制台', en: 'Open the console' },
  'act.openTicket': { 'zh-CN': '打开工单', en: 'Open the ticket' },
  customer: { 'zh-CN': '客户', en: 'Customer' },
  remedy: { 'zh-CN': '处理方法', en: 'Remedy' },
  toolCard: { 'zh-CN': '工具卡', en: 'Tool card' },
  dueBy: { 'zh-CN': '截止', en: 'Due' },

  customerNoticesEmpty: { 'zh-CN': '没有客户通知', en: 'No customer notices' },
  customerNoticesHint: {
    'zh-CN': '余额不足、余额用完的通知经客户渠道（客户系统接口）发给客户；未配置客户渠道时不发送。',
    en: 'Low and zero balance notices go to customers through the customer channel (the customer system); with none configured they are not sent.',
  },
  deliveryAll: { 'zh-CN': '全部', en: 'All' },
  'delivery.pending': { 'zh-CN': '发送中', en: 'Sending' },
  'delivery.delivered': { 'zh-CN': '已送达', en: 'Delivered' },
  'delivery.failed': { 'zh-CN': '发送失败', en: 'Failed' },
  'delivery.not_delivered': { 'zh-CN': '未发送', en: 'Not sent' },
  'col.created': { 'zh-CN': '通知时间', en: 'Created' },
  'col.notice': { 'zh-CN': '通知内容', en: 'Notice' },
  'col.delivery': { 'zh-CN': '送达状态', en: 'Delivery' },
  'col.channel': { 'zh-CN': '渠道', en: 'Channel' },
  'col.attempts': { 'zh-CN': '发送次数', en: 'Attempts' },
  'col.lastAttempt': { 'zh-CN': '最近发送', en: 'Last attempt' },
  nextAttempt: { 'zh-CN': '下次重试', en: 'Next retry' },
  noCustomerChannel: { 'zh-CN': '无', en: 'None' },

  pushesTitle: { 'zh-CN': '推送记录', en: 'Pushes' },
  pushesEmpty: { 'zh-CN': '没有推送', en: 'No pushes' },
  'push.pending': { 'zh-CN': '待发送', en: 'Pending' },
  'push.sent': { 'zh-CN': '已发出', en: 'Sent' },
  'push.delivered': { 'zh-CN': '已送达', en: 'Delivered' },
  'push.failed': { 'zh-CN': '发送失败', en: 'Failed' },
  'push.not_delivered': { 'zh-CN': '未送达', en: 'Not delivered' },
  pushRead: { 'zh-CN': '已读', en: 'read' },
  pushWaitsFor: { 'zh-CN': '等待', en: 'waiting for' },
  pushHeldUntil: { 'zh-CN': '免打扰，待', en: 'quiet hours until' },
  pushAckVia: { 'zh-CN': '接单来源', en: 'acknowledged via' },
} as const satisfies Record<string, Record<Lang, string>>;

export type MessageKey = keyof typeof MESSAGES;

/** The text of `key`; dynamic keys (`status.${s}`) fall back to the key itself when unknown. */
export function message(lang: Lang, key: MessageKey | `status.${TicketStatus}` | `priority.${Priority}` | `severity.${string}` | `role.${string}`): string {
  const entry = (MESSAGES as Record<string, Record<Lang, string>>)[key];
  return entry ? entry[lang] : key;
}

/** The half of a "中文 / English" manual text in `lang` (alert causes come joined like that). */
export function pickLang(text: string, lang: Lang): string {
  const i = text.indexOf(' / ');
  if (i < 0) return text;
  return lang === 'zh-CN' ? text.slice(0, i) : text.slice(i + 3);
}
