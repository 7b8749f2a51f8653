import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * A small time-series chart (uPlot: canvas, ~50 KB, made for streaming series). The plot is built
 * once and fed with setData, so a new sample every second redraws without touching the layout.
 */
export function TimeChart({ label, times, values, color, height = 120 }: { label: string; times: number[]; values: number[]; color: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: el.clientWidth || 300,
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f7' },
          ticks: { show: false },
          font: '11px system-ui',
          size: 26,
          values: (_u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString('en-GB', { hour12: false })),
        },
        { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { show: false }, font: '11px system-ui', size: 44 },
      ],
      series: [{}, { label, stroke: color, width: 1.75, fill: `${color}1f`, points: { show: false } }],
    };
    plot.current = new uPlot(opts, [times, values], el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
    };
  }, []);
  useEffect(() => {
    plot.current?.setData([times, values]);
  }, [times, values]);
  return <div class="chart" ref={box} style={{ height: `${height}px` }} role="img" aria-label={`${label} over the last minutes`} />;
}
