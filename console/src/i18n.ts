import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Lang } from './api.ts';
import { message, type MessageKey } from './messages.ts';

export type Translate = (key: Parameters<typeof message>[1]) => string;

export const LangContext = createContext<Lang>('zh-CN');

/** The current language and its translate function, for components. */
export function useI18n(): { lang: Lang; t: Translate } {
  const lang = useContext(LangContext);
  return { lang, t: (key) => message(lang, key) };
}

export type { MessageKey };

/** Local date and time in the console's language, e.g. 2026/11/23 10:00:00. */
export function formatTime(iso: string | null, lang: Lang): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(lang, { hour12: false });
}
