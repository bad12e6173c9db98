import { CONDITION_NAMES } from '../../alerts/catalog/messages.ts';
import type { Lang } from './api.ts';

/**
 * A condition's name in `lang` from the alert catalog the pushes and reports use (zh-CN first), so
 * operators read 二级燃气报警, not GAS_ALARM_L2; `code` is set when the name does not already show
 * the code, for a small secondary label. A code the catalog does not know is shown as it is.
 */
export function conditionLabel(condition: string, lang: Lang): { name: string; code?: string } {
  const names = CONDITION_NAMES as Readonly<Record<string, { 'zh-CN': string; en: string }>>;
  const name = Object.hasOwn(names, condition) ? names[condition]![lang] : undefined;
  if (name === undefined) return { name: condition };
  return name.includes(condition) ? { name } : { name, code: condition };
}
