// ECharts wrapper: modular import (only the charts and components used), one
// instance per element, options replaced on change, resized with its box.
import { useEffect, useRef } from 'preact/hooks';
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, TitleComponent, DatasetComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, DatasetComponent, CanvasRenderer]);

interface Props {
  option: EChartsCoreOption;
  height?: number;
  label: string;
  testid?: string;
  /** Number of data points drawn; exposed as data-points for tests. */
  points: number;
}

export function Chart({ option, height = 280, label, testid, points }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    if (!el.current) return;
    chart.current = echarts.init(el.current);
    const ro = new ResizeObserver(() => chart.current?.resize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption({ animation: false, ...option }, { notMerge: true });
  }, [option]);

  return (
    <div class="chart-wrap">
      <div
        ref={el}
        class="chart"
        role="img"
        aria-label={label}
        data-testid={testid}
        data-points={points}
        style={{ height: `${height}px` }}
      />
    </div>
  );
}
