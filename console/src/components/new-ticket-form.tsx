import { useState } from 'preact/hooks';
import { ApiError, type Lang, type Priority, type Text } from '../api.ts';
import { useI18n } from '../i18n.ts';
import { savedToken } from '../session.ts';

/** The form's texts, zh-CN first with English beside; class names as in alerts/catalog/messages.ts. */
const TEXTS = {
  tab: { 'zh-CN': '新建工单', en: 'New ticket' },
  origin: { 'zh-CN': '来源', en: 'Origin' },
  report: { 'zh-CN': '报修', en: 'Repair report' },
  complaint: { 'zh-CN': '投诉', en: 'Complaint' },
  contactName: { 'zh-CN': '联系人', en: 'Contact name' },
  contactPhone: { 'zh-CN': '联系电话', en: 'Contact phone' },
  address: { 'zh-CN': '地址', en: 'Address' },
  district: { 'zh-CN': '片区（可选）', en: 'District (optional)' },
  deviceId: { 'zh-CN': '设备编号（可选）', en: 'Device id (optional)' },
  description: { 'zh-CN': '内容', en: 'What was reported' },
  complaintClass: { 'zh-CN': '投诉类别', en: 'Complaint class' },
  justified: { 'zh-CN': '有效投诉', en: 'Justified complaint' },
  communication: { 'zh-CN': '沟通性投诉', en: 'Communication complaint' },
  complaintKind: { 'zh-CN': '沟通性投诉类型', en: 'Kind' },
  help: { 'zh-CN': '求助', en: 'Help' },
  enquiry: { 'zh-CN': '咨询', en: 'Enquiry' },
  venting: { 'zh-CN': '发泄', en: 'Venting' },
  major: { 'zh-CN': '重大投诉（直接报主管）', en: 'Major complaint (straight to the supervisor)' },
  priority: { 'zh-CN': '优先级', en: 'Priority' },
  emergency: { 'zh-CN': '紧急', en: 'Emergency' },
  urgent: { 'zh-CN': '加急', en: 'Urgent' },
  normal: { 'zh-CN': '普通', en: 'Normal' },
  low: { 'zh-CN': '低', en: 'Low' },
  submit: { 'zh-CN': '开单', en: 'Open ticket' },
  opened: { 'zh-CN': '已开单', en: 'Ticket opened' },
} satisfies Record<string, Text>;

/** The tab's name, for the operator view's navigation. */
export const newTicketLabel = (lang: Lang): string => TEXTS.tab[lang];

type Origin = 'report' | 'complaint';
type ComplaintClass = 'justified' | 'communication';
type ComplaintKind = 'help' | 'enquiry' | 'venting';

interface Form {
  origin: Origin;
  name: string;
  phone: string;
  address: string;
  district: string;
  deviceId: string;
  description: string;
  complaintClass: ComplaintClass;
  complaintKind: ComplaintKind;
  major: boolean;
  priority: Priority;
}

const EMPTY: Form = { origin: 'report', name: '', phone: '', address: '', district: '', deviceId: '', description: '', complaintClass: 'communication', complaintKind: 'help', major: false, priority: 'normal' };

/** POST /api/v1/tickets with the tab's token; the API's refusal names the field to fix. */
async function openTicket(body: Record<string, unknown>): Promise<{ id: string }> {
  const res = await fetch('/api/v1/tickets', {
    method: 'POST',
    headers: { authorization: `Bearer ${savedToken() ?? ''}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as { id?: string; error?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, json.error ?? `HTTP_${res.status}`, json.message ?? res.statusText);
  return json as { id: string };
}

/**
 * 受理/登记 at the call centre: a fault phoned in (报修) or a complaint (投诉) becomes a ticket,
 * routed like a device ticket. One requestId per filled-in form, so a double click or a resend
 * after a lost answer opens one ticket.
 */
export function NewTicketForm() {
  const { lang } = useI18n();
  const tx = (key: keyof typeof TEXTS) => TEXTS[key][lang];
  const [form, setForm] = useState<Form>(EMPTY);
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [opened, setOpened] = useState<string | null>(null);
  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));

  const bodyOf = (): Record<string, unknown> => ({
    origin: form.origin,
    contact: { name: form.name.trim(), phone: form.phone.trim() },
    address: form.address.trim(),
    description: form.description.trim(),
    priority: form.priority,
    requestId,
    ...(form.district.trim() ? { district: form.district.trim() } : {}),
    ...(form.deviceId.trim() ? { deviceId: form.deviceId.trim() } : {}),
    ...(form.origin === 'complaint'
      ? { complaintClass: form.complaintClass, ...(form.complaintClass === 'communication' ? { complaintKind: form.complaintKind } : {}), major: form.major }
      : {}),
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const t = await openTicket(bodyOf());
      setOpened(t.id);
      setForm(EMPTY);
      setRequestId(crypto.randomUUID());
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const text = (key: 'name' | 'phone' | 'address' | 'district' | 'deviceId', label: keyof typeof TEXTS, required: boolean) => (
    <label>
      {tx(label)}
      <input name={key} required={required} value={form[key]} onInput={(e) => set(key, e.currentTarget.value)} />
    </label>
  );
  const choice = <K extends 'origin' | 'complaintClass' | 'complaintKind' | 'priority'>(key: K, label: keyof typeof TEXTS, values: ReadonlyArray<Form[K] & keyof typeof TEXTS>) => (
    <label>
      {tx(label)}
      <select name={key} value={form[key]} onChange={(e) => set(key, e.currentTarget.value as Form[K])}>
        {values.map((v) => <option value={v}>{tx(v)}</option>)}
      </select>
    </label>
  );
  return (
    <form class="new-ticket" onSubmit={submit} data-testid="new-ticket-form">
      {choice('origin', 'origin', ['report', 'complaint'])}
      {text('name', 'contactName', true)}
      {text('phone', 'contactPhone', true)}
      {text('address', 'address', true)}
      {text('district', 'district', false)}
      {text('deviceId', 'deviceId', false)}
      <label>
        {tx('description')}
        <textarea name="description" required maxLength={2000} rows={4} value={form.description} onInput={(e) => set('description', e.currentTarget.value)} />
      </label>
      {form.origin === 'complaint' && choice('complaintClass', 'complaintClass', ['justified', 'communication'])}
      {form.origin === 'complaint' && form.complaintClass === 'communication' && choice('complaintKind', 'complaintKind', ['help', 'enquiry', 'venting'])}
      {form.origin === 'complaint' && (
        <label class="inline">
          <input type="checkbox" checked={form.major} onChange={(e) => set('major', e.currentTarget.checked)} />
          {tx('major')}
        </label>
      )}
      {choice('priority', 'priority', ['emergency', 'urgent', 'normal', 'low'])}
      {error && <p class="error" role="alert">{error}</p>}
      {opened && (
        <p data-testid="new-ticket-opened">
          {tx('opened')}: <a href={`#/tickets/${encodeURIComponent(opened)}`}>{opened}</a>
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy} data-testid="new-ticket-submit">{tx('submit')}</button>
      </div>
    </form>
  );
}
