import type * as echarts from 'echarts/core';
import { init } from 'echarts/core';
import type { RefObject } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** An ECharts instance on `el` for the component's life, resized with its box: the element to render into and the chart to set options on. */
export function useEChart(): { el: RefObject<HTMLDivElement | null>; chart: { current: echarts.ECharts | null } } {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    const c = init(el.current!);
    chart.current = c;
    const observer = new ResizeObserver(() => c.resize());
    observer.observe(el.current!);
    return () => {
      observer.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  return { el, chart };
}
