import { toCsv } from '../csv.ts';
import { useI18n } from '../i18n.ts';
import type { ReportTable } from '../report-tables.ts';

/** A report table with its CSV download: the same rows, built in the browser (the API serves JSON only). */
export function ReportTableView({ table, fileName }: { table: ReportTable; fileName: string }) {
  const { t } = useI18n();
  const csv = toCsv(table.columns.map((c) => c.label), table.rows);
  // A data: link needs no object URL to revoke afterwards.
  const href = `data:text/csv;charset=utf-8,${encodeURIComponent(csv)}`;
  return (
    <section class="card report" data-testid="report-table" data-table={table.id} data-rows={table.rows.length}>
      <div class="toolbar">
        <h3>{table.title}</h3>
        <a class="button" href={href} download={fileName} data-testid="report-csv">{t('report.csv')}</a>
      </div>
      {table.rows.length === 0 ? (
        <p class="muted small">{t('report.none')}</p>
      ) : (
        <table class="grid">
          <thead>
            <tr>
              {table.columns.map((c) => (
                <th key={c.label} class={c.numeric ? 'num' : undefined}>{c.label}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) => (
                  <td key={j} class={table.columns[j]?.numeric ? 'num' : undefined}>{cell ?? '—'}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
