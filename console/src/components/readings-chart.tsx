import { LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'preact/hooks';

// Only the parts used, so the bundle does not carry every chart type.
echarts.use([LineChart, GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, CanvasRenderer]);

export interface ReadingPoint {
  /** The reading's own time, ms since the epoch. */
  at: number;
  values: Record<string, number>;
}

/** One line per numeric field of the readings, on a time axis; the legend toggles fields. */
export function ReadingsChart({ points }: { points: ReadingPoint[] }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    const c = echarts.init(el.current!);
    chart.current = c;
    const observer = new ResizeObserver(() => c.resize());
    observer.observe(el.current!);
    return () => {
      observer.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const fields = [...new Set(points.flatMap((p) => Object.keys(p.values)))].sort();
    chart.current?.setOption(
      {
        animation: false,
        tooltip: { trigger: 'axis' },
        legend: { type: 'scroll', top: 0 },
        grid: { left: 48, right: 16, top: 36, bottom: 56 },
        xAxis: { type: 'time' },
        yAxis: { type: 'value', scale: true },
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 20, bottom: 8 }],
        series: fields.map((f) => ({
          name: f,
          type: 'line',
          showSymbol: points.length < 50,
          connectNulls: true,
          data: points.filter((p) => f in p.values).map((p) => [p.at, p.values[f]]),
        })),
      },
      { notMerge: true },
    );
  }, [points]);

  return <div ref={el} class="chart" data-testid="readings-chart" data-points={points.length} />;
}
