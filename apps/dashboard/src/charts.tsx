/**
 * Charts (Apache ECharts through echarts-for-react, tree-shaken core). Tooltips render as canvas rich text
 * (`renderMode: 'richText'`), never as HTML: model names and other labels come from captured data.
 */
import ReactECharts from 'echarts-for-react/lib/core';
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, CustomChart, GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, MarkAreaComponent, CanvasRenderer]);

export { echarts };

export function Chart({ option, height = 260, testId }: { option: Record<string, unknown>; height?: number; testId?: string }) {
  return (
    <div data-testid={testId}>
      <ReactECharts echarts={echarts} option={{ animation: false, ...option, tooltip: { trigger: 'axis', ...(option.tooltip as object), renderMode: 'richText' } }} notMerge style={{ height }} />
    </div>
  );
}
