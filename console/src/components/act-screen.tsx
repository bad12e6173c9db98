import { useEffect, useState } from 'preact/hooks';
import { type ActionDone, ApiError, redeemActionToken } from '../api.ts';
import { useI18n } from '../i18n.ts';
import type { MessageKey } from '../messages.ts';

/** The token of a one-tap link, `#/act/<token>`; undefined for any other route. */
export const actTokenOf = (hash: string): string | undefined => /^#\/act\/([A-Za-z0-9_.-]+)$/.exec(hash)?.[1];

type Result = { state: 'working' } | { state: 'done'; done: ActionDone } | { state: 'refused'; key: MessageKey; detail: string };

/** Why a token was refused, in words a technician can act on. */
function refusal(err: unknown): { key: MessageKey; detail: string } {
  if (!(err instanceof ApiError)) return { key: 'failed', detail: String(err) };
  if (err.code === 'GAS_ACTION_TOKEN_REPLAYED' || err.code === 'GAS_ACTION_TOKEN_EXPIRED') return { key: 'act.used', detail: err.message };
  // Any other 409: the token was good but the ticket has moved on (e.g. acknowledged by someone else).
  if (err.status === 409) return { key: 'act.conflict', detail: err.message };
  if (err.status === 400 || err.status === 401 || err.status === 403) return { key: 'act.invalid', detail: err.message };
  return { key: 'failed', detail: err.message };
}

/**
 * What a tap on a phone notification opens where the notification has no buttons (iPhone) or
 * where a channel sends a link (SMS, DingTalk): the token is redeemed at once, no log-in, and the
 * result is shown. The link is then taken out of the address, so a reload does not spend it again.
 */
export function ActScreen({ token }: { token: string }) {
  const { t } = useI18n();
  const [result, setResult] = useState<Result>({ state: 'working' });

  useEffect(() => {
    let stale = false;
    history.replaceState(null, '', location.pathname + location.search);
    redeemActionToken(token).then(
      (done) => !stale && setResult({ state: 'done', done }),
      (err: unknown) => !stale && setResult({ state: 'refused', ...refusal(err) }),
    );
    return () => {
      stale = true;
    };
  }, [token]);

  const ticketLink = result.state === 'done' ? `#/tickets/${encodeURIComponent(result.done.ticketId)}` : '#/';
  return (
    <section class="card act-screen" data-testid="act-screen" data-state={result.state}>
      <h2>{t('act.title')}</h2>
      {result.state === 'working' && <p class="muted">{t('act.working')}</p>}
      {result.state === 'done' && (
        <>
          <p class="act-done" role="status">
            <strong>{t(`act.done.${result.done.action}`)}</strong> {result.done.ticketId}
          </p>
          <p class="muted">
            {t('act.ticketStatus')}: {t(`status.${result.done.status}`)}
          </p>
        </>
      )}
      {result.state === 'refused' && (
        <p class="error" role="alert">
          {t(result.key)}
          {result.detail && <span class="small"> ({result.detail})</span>}
        </p>
      )}
      <p>
        <a href={ticketLink}>
          {result.state === 'done' ? t('act.openTicket') : t('act.openConsole')}
        </a>
      </p>
    </section>
  );
}
