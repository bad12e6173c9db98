import type { Me } from '../api.ts';
import { useI18n } from '../i18n.ts';

export function TopBar({ me, onSwitchLang, onLogOut }: { me: Me | null; onSwitchLang: () => void; onLogOut: () => void }) {
  const { t } = useI18n();
  return (
    <header class="top-bar">
      <h1>{t('appTitle')}</h1>
      <div class="top-bar-right">
        {me && (
          <span class="who" data-testid="who">
            {me.name} · {t(`role.${me.role}`)}
          </span>
        )}
        <button type="button" class="link" onClick={onSwitchLang} data-testid="lang-switch">
          {t('language')}
        </button>
        {me && (
          <button type="button" class="link" onClick={onLogOut}>
            {t('logout')}
          </button>
        )}
      </div>
    </header>
  );
}
