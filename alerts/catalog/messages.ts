import type { Condition, DeviceKind, Severity } from '../../contracts/messages.ts';
import type { SlaClock } from '../sla/sla-policy.ts';
import type { Text } from './manual.ts';

/**
 * User-facing names other than the manual's texts: conditions, severities, device kinds, vendors.
 * zh-CN is what operators and technicians read first (the manual's terms); English sits beside it.
 */

const t = (zh: string, en: string): Text => ({ 'zh-CN': zh, en });

// Record<Condition, …> so a condition added to the contract fails to compile until it is named here.
export const CONDITION_NAMES: Readonly<Record<Condition, Text>> = {
  'ERR-1': t('故障代码ERR-1', 'Error code ERR-1'),
  'ERR-2': t('故障代码ERR-2', 'Error code ERR-2'),
  'ERR-3': t('故障代码ERR-3', 'Error code ERR-3'),
  'ERR-4': t('故障代码ERR-4', 'Error code ERR-4'),
  'ERR-5': t('故障代码ERR-5', 'Error code ERR-5'),
  'ERR-6': t('故障代码ERR-6', 'Error code ERR-6'),
  'ERR-7': t('故障代码ERR-7', 'Error code ERR-7'),
  DEVICE_FAULT: t('设备故障', 'Device fault'),
  LOW_BATTERY: t('低电', 'Low battery'),
  VALVE_CLOSED_LOW_BATTERY: t('低电关阀', 'Valve closed on low battery'),
  LOW_BALANCE: t('欠量', 'Low balance'),
  NO_BALANCE: t('请速购气（气量为零）', 'Balance used up'),
  OVERLOAD: t('超流量（过载）', 'Overload'),
  SELF_METERING: t('自计量', 'Self-metering'),
  COUNT_MISMATCH: t('计数不同步', 'Count mismatch'),
  GAS_ALARM_L1: t('一级燃气报警', 'Gas alarm, level 1'),
  GAS_ALARM_L2: t('二级燃气报警', 'Gas alarm, level 2'),
  VALVE_NOT_CUT: t('报警但阀门未切断', 'Alarm without valve cut-off'),
  SENSOR_FAULT: t('传感器故障', 'Sensor fault'),
  POWER_LOST: t('停电', 'Power lost'),
  MAIN_POWER_UNDERVOLTAGE: t('主电欠压', 'Main power undervoltage'),
  BACKUP_UNDERVOLTAGE: t('备电欠压', 'Backup power undervoltage'),
  BACKUP_OPEN_CIRCUIT: t('备电断路', 'Backup power open circuit'),
  DETECTOR_OFFLINE: t('探测器掉线', 'Detector offline'),
  NO_SIGNAL: t('设备无信号', 'No signal'),
  GATEWAY_OFFLINE: t('网关离线', 'Gateway offline'),
  TAMPER: t('疑似人为干扰', 'Suspected tampering'),
  MAINTENANCE_DUE: t('定期维护到期', 'Maintenance due'),
};

export const SEVERITY_NAMES: Readonly<Record<Severity, Text>> = {
  critical: t('紧急', 'critical'),
  high: t('高', 'high'),
  medium: t('中', 'medium'),
  low: t('低', 'low'),
  info: t('提示', 'info'),
};

export const DEVICE_KIND_NAMES: Readonly<Record<DeviceKind, Text>> = {
  household_meter: t('民用智能燃气表', 'household smart gas meter'),
  industrial_controller: t('工商业控制器', 'industrial/commercial meter controller'),
  flow_meter: t('流量计', 'flow meter'),
  home_gas_alarm: t('居民燃气报警器', 'residential gas alarm'),
  alarm_controller: t('工业燃气报警控制器', 'industrial gas alarm controller'),
};

/** Vendors the manual covers, keyed as in the registry (lower case). */
export const VENDOR_NAMES: Readonly<Record<string, Text>> = {
  meihua: t('美华', 'Meihua'),
  qianfeng: t('前锋', 'Qianfeng'),
};

export function conditionName(condition: Condition): Text {
  return CONDITION_NAMES[condition];
}

export function severityName(severity: Severity): Text {
  return SEVERITY_NAMES[severity];
}

export function deviceKindName(kind: DeviceKind): Text {
  return DEVICE_KIND_NAMES[kind];
}

/** The vendor's name, or undefined for a vendor the manual does not cover. */
export function vendorName(vendor: string): Text | undefined {
  return Object.hasOwn(VENDOR_NAMES, vendor.toLowerCase()) ? VENDOR_NAMES[vendor.toLowerCase()] : undefined;
}

/** One line for logs, tickets and the API: zh-CN first, English beside it. */
export function bilingual(text: Text): string {
  return `${text['zh-CN']} / ${text.en}`;
}

/** Who opened a ticket: an alert, or a person's 报修 or 投诉. */
export const TICKET_ORIGIN_NAMES: Readonly<Record<'alert' | 'report' | 'complaint', Text>> = {
  alert: t('设备告警', 'Device alert'),
  report: t('报修', 'Repair report'),
  complaint: t('投诉', 'Complaint'),
};

/** Complaint classes of the service manual (000:702). */
export const COMPLAINT_CLASS_NAMES: Readonly<Record<'justified' | 'communication', Text>> = {
  justified: t('有效投诉', 'Justified complaint'),
  communication: t('沟通性投诉', 'Communication complaint'),
};

export const COMPLAINT_KIND_NAMES: Readonly<Record<'help' | 'enquiry' | 'venting', Text>> = {
  help: t('求助', 'Help'),
  enquiry: t('咨询', 'Enquiry'),
  venting: t('发泄', 'Venting'),
};

/** The customer clocks of person-opened tickets (service-rules.md, time limits). */
export const CUSTOMER_CLOCK_NAMES: Readonly<Record<'reply' | 'complete' | 'customer_update', Text>> = {
  reply: t('答复客户', 'reply to the customer'),
  complete: t('投诉办结', 'complaint completed'),
  customer_update: t('向客户通报进度', 'update to the waiting customer'),
};

/** A ticket's SLA clocks (alerts/sla/sla-policy.ts), as the pushes and the reports name them. */
export const SLA_CLOCK_NAMES: Readonly<Record<SlaClock, Text>> = {
  dispatch: t('派工', 'dispatch'),
  acknowledge: t('接单', 'acknowledge'),
  on_site: t('到场', 'on site'),
  resolve: t('修复', 'resolve'),
  follow_up: t('回访', 'follow-up'),
};

/** A breached clock's name: an SLA or a customer clock, its round suffix (`resolve#2`) dropped; an unknown one as it is. */
export function clockName(clock: string): Text {
  const key = clock.split('#')[0]!;
  return (SLA_CLOCK_NAMES as Record<string, Text>)[key] ?? (CUSTOMER_CLOCK_NAMES as Record<string, Text>)[key] ?? t(clock, clock);
}

export const CONTACT_CHANNEL_NAMES: Readonly<Record<'phone' | 'sms' | 'visit' | 'other', Text>> = {
  phone: t('电话', 'phone'),
  sms: t('短信', 'SMS'),
  visit: t('上门', 'visit'),
  other: t('其他', 'other'),
};

/** Fixed lines of the pushes about person-opened tickets. */
export const PERSON_TICKET_TEXTS = {
  dispatched: t('请接单并尽快联系客户。', 'Please acknowledge and contact the customer.'),
  complaintToSupervisor: t('重大或紧急投诉，直接报主管。', 'Major or urgent complaint: straight to the supervisor.'),
  escalatedTitle: t('投诉报主管', 'Complaint to supervisor'),
  breachedTitle: t('客户时限超时', 'Customer limit breached'),
  description: t('内容', 'Details'),
  address: t('地址', 'Address'),
  contact: t('联系人', 'Contact'),
  device: t('设备', 'Device'),
  due: t('时限', 'Due'),
  limitPassed: t('时限已过', 'limit has passed'),
  reopened: t('重开', 'reopened'),
} as const;

/** The buttons a phone notification carries (WeCom card, Feishu card, Web Push): what the action token does. */
export const PHONE_ACTION_NAMES: Readonly<Record<'acknowledge' | 'on_site', Text>> = {
  acknowledge: t('接单', 'Acknowledge'),
  on_site: t('到场', 'On site'),
};
