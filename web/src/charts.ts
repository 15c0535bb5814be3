// Small wrappers over uPlot (time series and bars) and a heat map of plain
// cells. Charts are drawn on canvas; labels are text.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export interface Series {
  label: string;
  values: (number | null)[];
  bars?: boolean;
  axis?: number; // 0 left, 1 right
}

let live: uPlot[] = [];

export function disposeCharts(): void {
  for (const c of live) c.destroy();
  live = [];
}

// x: seconds since the epoch.
export function timeChart(x: number[], series: Series[], opts: { height?: number; width?: number; title?: string } = {}): HTMLElement {
  const box = h("div", { class: "chart" });
  if (x.length === 0) {
    box.append(h("p", { class: "muted" }, "no data"));
    return box;
  }
  const twoAxes = series.some((s) => s.axis === 1);
  const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
  const chart = new uPlot(
    {
      width: opts.width ?? 560,
      height: opts.height ?? 200,
      title: opts.title,
      series: [
        {},
        ...series.map((s, idx) => ({
          label: s.label,
          stroke: PALETTE[idx % PALETTE.length],
          fill: s.bars ? PALETTE[idx % PALETTE.length] + "99" : undefined,
          width: s.bars ? 0 : 2,
          paths: s.bars ? bars : undefined,
          points: { show: x.length < 40 },
          scale: s.axis === 1 ? "r" : "y",
        })),
      ],
      axes: twoAxes ? [{}, { scale: "y" }, { scale: "r", side: 1, grid: { show: false } }] : [{}, {}],
      // Counts: every y axis starts at zero.
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] }, r: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      legend: { show: true },
    },
    [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
    box,
  );
  live.push(chart);
  return box;
}

export function dayToSec(day: string): number {
  return Date.parse(day + "T00:00:00Z") / 1000;
}

// rows x 24 hours; cell shade by count (relative to the busiest cell).
export function heatMap(rows: { label: string; hours: number[] }[]): HTMLElement {
  let max = 1;
  for (const r of rows) for (const v of r.hours) max = Math.max(max, v);
  const head = h("tr", {}, h("th", {}, "account \\ hour (UTC)"), ...Array.from({ length: 24 }, (_, i) => h("th", { class: "hm-h" }, String(i))));
  const body = rows.map((r) => {
    const cells = r.hours.map((v) => {
      const td = h("td", { class: "hm", title: `${r.label} ${v}` }, v ? String(v) : "");
      const a = v / max;
      td.style.backgroundColor = `rgba(220, 38, 38, ${a.toFixed(3)})`;
      td.style.color = a > 0.5 ? "#fff" : "#111";
      return td;
    });
    return h("tr", {}, h("td", { class: "hm-label" }, r.label), ...cells);
  });
  return h("table", { class: "heatmap" }, h("thead", {}, head), h("tbody", {}, ...body));
}
