import { useEffect, useState } from 'preact/hooks';
import type { ApiClient, OnCall, Person } from '../api.ts';
import { formatTime, useI18n } from '../i18n.ts';

/** On call now, one card per district the teams answer for ('*' is the fallback team's). */
export function OnCallPanel({ api }: { api: ApiClient }) {
  const { t } = useI18n();
  const [rows, setRows] = useState<Array<{ district: string; oc: OnCall }> | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    (async () => {
      const teams = await api.teams();
      const districts = [...new Set(teams.flatMap((team) => team.districts))];
      const answers = await Promise.all(districts.map(async (d) => ({ district: d, oc: await api.onCall(d === '*' ? undefined : d) })));
      if (!stale) setRows(answers);
    })().catch((err: unknown) => !stale && setError(String(err)));
    return () => {
      stale = true;
    };
  }, [api]);

  if (error) return <p class="error">{t('failed')}: {error}</p>;
  if (!rows) return <p class="muted">{t('loading')}</p>;
  return (
    <section class="cards" data-testid="oncall">
      {rows.map(({ district, oc }) => (
        <OnCallCard key={district} district={district === '*' ? t('fallbackDistrict') : district} oc={oc} />
      ))}
    </section>
  );
}

function OnCallCard({ district, oc }: { district: string; oc: OnCall }) {
  const { t, lang } = useI18n();
  return (
    <article class="card">
      <h3>{district}</h3>
      <dl>
        <dt>{t('oncallTeam')}</dt>
        <dd>{oc.teamId}</dd>
        <dt>{t('oncallTechnician')}</dt>
        <dd data-testid="oncall-technician"><PersonLine person={oc.technician} /></dd>
        <dt>{t('oncallShift')}</dt>
        <dd>{oc.shift ? `${oc.shift.name} · ${t(`shift.${oc.shift.kind}`)} · ${formatTime(oc.shift.startsAt, lang)} – ${formatTime(oc.shift.endsAt, lang)}` : '—'}</dd>
        <dt>{t('oncallSupervisor')}</dt>
        <dd><PersonLine person={oc.supervisor} /></dd>
        <dt>{t('oncallDirector')}</dt>
        <dd><PersonLine person={oc.director} /></dd>
      </dl>
    </article>
  );
}

function PersonLine({ person }: { person: Person | null }) {
  const { t } = useI18n();
  if (!person) return <span class="muted">{t('nobody')}</span>;
  return (
    <span>
      {person.name} <span class="muted mono">{person.id}</span>
      {person.phone && (
        <>
          {' '}· <a href={`tel:${person.phone}`}>{person.phone}</a>
        </>
      )}
    </span>
  );
}
