import type { Lang } from '../api.ts';
import { conditionLabel } from '../conditions.ts';

/** The condition's name, with its code beside it, small, for those who search by code. */
export function ConditionName({ condition, lang }: { condition: string; lang: Lang }) {
  const label = conditionLabel(condition, lang);
  return (
    <>
      {label.name}
      {label.code && <span class="mono muted small"> {label.code}</span>}
    </>
  );
}
