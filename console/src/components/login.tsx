import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';

export function Login({ error, onLogIn }: { error: string | null; onLogIn: (token: string) => void }) {
  const { t } = useI18n();
  const [token, setToken] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    if (token.trim()) onLogIn(token.trim());
  };
  return (
    <form class="card login" onSubmit={submit}>
      <h2>{t('loginTitle')}</h2>
      <p class="muted">{t('loginHint')}</p>
      <label>
        {t('tokenLabel')}
        <input name="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary">{t('loginButton')}</button>
    </form>
  );
}
