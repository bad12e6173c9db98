import { useI18n } from '../i18n.ts';
import type { LiveState } from '../live.ts';

export function LiveIndicator({ state }: { state: LiveState }) {
  const { t } = useI18n();
  return (
    <span class={`live live-${state}`} data-testid="live" data-state={state}>
      {state === 'open' ? t('live') : t('reconnecting')}
    </span>
  );
}
