import { LineChart, ScatterChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect } from 'preact/hooks';
import { useEChart } from './use-echart.ts';

// Only the parts used, so the bundle does not carry every chart type.
echarts.use([LineChart, ScatterChart, GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, CanvasRenderer]);

export interface ReadingPoint {
  /** The reading's own time, ms since the epoch. */
  at: number;
  values: Record<string, number>;
  /** Status tokens the device showed (device text: escaped before it reaches the tooltip's HTML). */
  status?: string[];
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * One line per numeric field on a time axis spanning the chosen range; the legend toggles fields.
 * Points that carry status tokens are marked along the top (their own series), the tokens in the tooltip.
 */
export function ReadingsChart({ points, fromMs, toMs, statusLabel }: { points: ReadingPoint[]; fromMs: number; toMs: number; statusLabel: string }) {
  const { el, chart } = useEChart();

  const flagged = points.filter((p) => p.status && p.status.length > 0);
  useEffect(() => {
    const fields = [...new Set(points.flatMap((p) => Object.keys(p.values)))].sort();
    const statusAt = new Map(flagged.map((p) => [p.at, p.status!]));
    chart.current?.setOption(
      {
        animation: false,
        tooltip: {
          trigger: 'axis',
          formatter: (params: Array<{ axisValue: number; marker: string; seriesName: string; value: [number, number] }>) => {
            const at = params[0]?.axisValue;
            const lines = params.filter((p) => p.seriesName !== statusLabel).map((p) => `${p.marker}${escapeHtml(p.seriesName)}: ${p.value[1]}`);
            const status = at === undefined ? undefined : statusAt.get(at);
            if (status) lines.push(`${statusLabel}: ${status.map(escapeHtml).join(' ')}`);
            return [at === undefined ? '' : new Date(at).toLocaleString(undefined, { hour12: false }), ...lines].join('<br/>');
          },
        },
        legend: { type: 'scroll', top: 0 },
        grid: { left: 48, right: 16, top: 36, bottom: 56 },
        xAxis: { type: 'time', min: fromMs, max: toMs },
        yAxis: [{ type: 'value', scale: true }, { type: 'value', min: 0, max: 1, show: false }],
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 20, bottom: 8 }],
        series: [
          ...fields.map((f) => ({
            name: f,
            type: 'line',
            showSymbol: points.length < 50,
            connectNulls: true,
            data: points.filter((p) => f in p.values).map((p) => [p.at, p.values[f]]),
          })),
          ...(flagged.length > 0
            ? [{ name: statusLabel, type: 'scatter', yAxisIndex: 1, symbol: 'diamond', symbolSize: 9, itemStyle: { color: '#c62828' }, data: flagged.map((p) => [p.at, 0.96]) }]
            : []),
        ],
      },
      { notMerge: true },
    );
  }, [points, fromMs, toMs, statusLabel]);

  return <div ref={el} class="chart" data-testid="readings-chart" data-points={points.length} data-status-points={flagged.length} />;
}
