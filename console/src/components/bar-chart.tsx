import { BarChart as EBarChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect } from 'preact/hooks';
import { useEChart } from './use-echart.ts';

echarts.use([EBarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

export interface BarData {
  categories: string[];
  series: Array<{ name: string; data: number[] }>;
}

/** Horizontal bars, one row per category (condition names are long), the first category on top. */
export function BarChart({ data }: { data: BarData }) {
  const { el, chart } = useEChart();

  useEffect(() => {
    chart.current?.setOption(
      {
        animation: false,
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        legend: { top: 0 },
        grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
        xAxis: { type: 'value', minInterval: 1 },
        yAxis: { type: 'category', inverse: true, data: data.categories },
        series: data.series.map((s) => ({ name: s.name, type: 'bar', data: s.data, label: { show: true, position: 'right' } })),
      },
      { notMerge: true },
    );
  }, [data]);

  // Tall enough for every category: a month may list a dozen conditions.
  return <div ref={el} class="chart" style={{ height: `${80 + 44 * Math.max(1, data.categories.length)}px` }} data-testid="report-chart" data-categories={data.categories.length} />;
}
