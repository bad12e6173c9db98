import type { Lang } from './api.ts';

// sessionStorage, not localStorage: the token leaves with the tab, so a shared control-room
// machine does not keep someone's token after they close it.
const TOKEN_KEY = 'gas-console.token';
const LANG_KEY = 'gas-console.lang';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** zh-CN unless this tab switched to English. */
export function savedLang(): Lang {
  return sessionStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh-CN';
}

export function saveLang(lang: Lang): void {
  sessionStorage.setItem(LANG_KEY, lang);
}
