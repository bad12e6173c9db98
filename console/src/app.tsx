import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient, ApiError, type Lang, type Me } from './api.ts';
import { ActScreen, actTokenOf } from './components/act-screen.tsx';
import { Login } from './components/login.tsx';
import { OperatorView } from './components/operator-view.tsx';
import { TechnicianView } from './components/technician-view.tsx';
import { TopBar } from './components/top-bar.tsx';
import { LangContext } from './i18n.ts';
import { message } from './messages.ts';
import { saveLang, savedLang, savedToken, saveToken } from './session.ts';

type Session = { state: 'out' } | { state: 'checking'; token: string } | { state: 'in'; token: string; me: Me };

/** Log-in, language, and the view for the token's role: technicians get the phone view. */
export function App() {
  const [lang, setLang] = useState<Lang>(savedLang);
  const [session, setSession] = useState<Session>(() => {
    const token = savedToken();
    return token ? { state: 'checking', token } : { state: 'out' };
  });
  const [loginError, setLoginError] = useState<string | null>(null);
  // A one-tap link from a phone notification (#/act/<token>) needs no log-in: the token is the credential.
  const [actToken, setActToken] = useState(() => actTokenOf(location.hash));
  useEffect(() => {
    const onChange = () => setActToken(actTokenOf(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = message(lang, 'appTitle');
  }, [lang]);

  // A token kept from earlier in this tab is checked once; a revoked one sends the user to log-in.
  useEffect(() => {
    if (session.state !== 'checking') return;
    let stale = false;
    new ApiClient(session.token).me().then(
      (me) => !stale && setSession({ state: 'in', token: session.token, me }),
      (err: unknown) => {
        if (stale) return;
        saveToken(null);
        setSession({ state: 'out' });
        setLoginError(err instanceof ApiError && err.status === 401 ? message(lang, 'loginRefused') : `${message(lang, 'failed')}: ${String(err)}`);
      },
    );
    return () => {
      stale = true;
    };
  }, [session]);

  const api = useMemo(() => (session.state === 'in' ? new ApiClient(session.token) : null), [session]);

  const switchLang = () => {
    const next: Lang = lang === 'zh-CN' ? 'en' : 'zh-CN';
    saveLang(next);
    setLang(next);
  };
  const logIn = (token: string) => {
    setLoginError(null);
    saveToken(token);
    setSession({ state: 'checking', token });
  };
  const logOut = () => {
    saveToken(null);
    setSession({ state: 'out' });
  };

  const me = session.state === 'in' ? session.me : null;
  return (
    <LangContext.Provider value={lang}>
      <TopBar me={me} onSwitchLang={switchLang} onLogOut={logOut} />
      <main>
        {actToken && <ActScreen token={actToken} />}
        {!actToken && session.state === 'out' && <Login error={loginError} onLogIn={logIn} />}
        {!actToken && session.state === 'checking' && <p class="muted">{message(lang, 'loading')}</p>}
        {!actToken && me && api && (me.role === 'technician' ? <TechnicianView api={api} me={me} /> : <OperatorView api={api} />)}
      </main>
    </LangContext.Provider>
  );
}
