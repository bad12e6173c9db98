import { useEffect, useState } from 'preact/hooks';
import type { ApiClient, Ticket, TicketAction, TicketActionBodies } from '../api.ts';
import { useI18n } from '../i18n.ts';

type FormAction = Extract<TicketAction, 'dispatch' | 'follow-up' | 'cancel' | 'reopen' | 'resolve'>;

/** The fields one action needs, sent as that action's body; the API's refusal is shown as is. */
export function ActionForm({ api, ticket, action, onClose, onDone }: { api: ApiClient; ticket: Ticket; action: FormAction; onClose: () => void; onDone: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [satisfied, setSatisfied] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Dispatch suggests whoever is on call for the ticket's district now.
  useEffect(() => {
    if (action !== 'dispatch') return;
    let stale = false;
    api.onCall(ticket.district ?? undefined).then(
      (oc) => !stale && oc.technician && setText((v) => v || oc.technician!.id),
      () => undefined,
    );
    return () => {
      stale = true;
    };
  }, [action, ticket.id]);

  const bodyOf = (): TicketActionBodies[FormAction] => {
    switch (action) {
      case 'dispatch':
        return { assignee: text.trim() };
      case 'follow-up':
        return text.trim() ? { satisfied, notes: text.trim() } : { satisfied };
      case 'resolve':
        return { remedyDone: text.trim() };
      case 'cancel':
      case 'reopen':
        return { reason: text.trim() };
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.act(ticket.id, action, bodyOf());
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const label = action === 'dispatch' ? t('assigneeLabel') : action === 'follow-up' ? t('notesLabel') : action === 'resolve' ? t('remedyDoneLabel') : t('reasonLabel');
  const required = action !== 'follow-up';
  return (
    <form class="action-form" onSubmit={submit} data-testid={`form-${action}`}>
      {action === 'follow-up' && (
        <label class="inline">
          <input type="checkbox" checked={satisfied} onChange={(e) => setSatisfied(e.currentTarget.checked)} />
          {t('satisfiedLabel')}
        </label>
      )}
      <label>
        {label}
        {action === 'resolve' ? (
          <textarea name="text" required={required} rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        ) : (
          <input name="text" required={required} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        )}
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy} data-testid="confirm">{t('confirm')}</button>
        <button type="button" onClick={onClose}>{t('close')}</button>
      </div>
    </form>
  );
}
