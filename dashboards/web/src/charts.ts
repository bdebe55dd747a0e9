import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

/**
 * A palette that stays apart for colour-blind readers (Okabe–Ito, then Tol's muted), with the colours that are faint
 * on the white plot (orange, sky blue, yellow, teal) replaced by darker hues: every line and bar has at least 3:1
 * against white (WCAG 1.4.11 Non-text Contrast).
 */
const PALETTE = ['#0072B2', '#A6761D', '#009E73', '#D55E00', '#CC79A7', '#00838F', '#7570B3', '#332288', '#882255', '#117733', '#999933', '#C51B7D'];
export const colour = (i: number): string => PALETTE[i % PALETTE.length]!;

const charts = new WeakMap<HTMLCanvasElement, Chart>();

/** Hides the tooltip a chart shows under the pointer; true when there was one. */
function hideTooltip(chart: Chart): boolean {
  if ((chart.tooltip?.getActiveElements().length ?? 0) === 0) return false;
  chart.tooltip?.setActiveElements([], { x: 0, y: 0 });
  chart.setActiveElements([]);
  chart.update();
  return true;
}

// Escape hides a tooltip without moving the pointer (WCAG 1.4.13 Content on Hover or Focus); it shows again on the next move.
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') for (const chart of Object.values(Chart.instances)) hideTooltip(chart);
});

/** What a click on a bar, point or slice opens: its series and its index among the labels. */
export type Pick = (series: number, index: number) => void;

function draw(canvas: HTMLCanvasElement, config: ChartConfiguration, pick?: Pick): void {
  charts.get(canvas)?.destroy();
  if (pick) {
    config.options = {
      ...config.options,
      onClick: (_event, elements) => {
        const hit = elements[0];
        if (hit) pick(hit.datasetIndex, hit.index);
      },
      onHover: (event, elements) => {
        const target = event.native?.target;
        if (target instanceof HTMLElement) target.style.cursor = elements.length > 0 ? 'pointer' : 'default';
      },
    };
  }
  charts.set(canvas, new Chart(canvas, config));
}

/** A canvas in a sized box (Chart.js fills its parent), with a text alternative for screen readers. */
export function chartBox(testid: string, label: string): { box: HTMLDivElement; canvas: HTMLCanvasElement } {
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  canvas.dataset['testid'] = testid;
  const box = document.createElement('div');
  box.className = 'chart';
  box.appendChild(canvas);
  return { box, canvas };
}

export interface Series {
  readonly label: string;
  /** The values plotted. */
  readonly values: readonly (number | null)[];
  /** What the tooltip says for each value: the API's own text (exact amounts), not the plotted float. */
  readonly texts: readonly string[];
}

const common = {
  animation: false as const,
  responsive: true,
  maintainAspectRatio: false,
};

/** Stacked bars per day (cost by team over time). */
export function stackedBars(canvas: HTMLCanvasElement, labels: readonly string[], series: readonly Series[], unit: string, pick?: Pick): void {
  draw(canvas, {
    type: 'bar',
    data: {
      labels: [...labels],
      datasets: series.map((s, i) => ({ label: s.label, data: [...s.values], backgroundColor: colour(i), borderWidth: 0 })),
    },
    options: {
      ...common,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: unit } } },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label ?? ''}: ${series[item.datasetIndex]?.texts[item.dataIndex] ?? ''}` } },
      },
    },
  }, pick);
}

/** Lines over time (cost per identity per day, latency percentiles per region per hour). */
export function lines(
  canvas: HTMLCanvasElement,
  labels: readonly string[],
  series: readonly Series[],
  unit: string,
  dashed: (i: number) => boolean = () => false,
  hidden: (i: number) => boolean = () => false,
  pick?: Pick,
): void {
  draw(canvas, {
    type: 'line',
    data: {
      labels: [...labels],
      datasets: series.map((s, i) => ({
        label: s.label,
        data: [...s.values],
        borderColor: colour(i),
        backgroundColor: colour(i),
        borderDash: dashed(i) ? [6, 4] : [],
        hidden: hidden(i),
        spanGaps: true,
        pointRadius: labels.length > 48 ? 0 : 2,
        tension: 0,
      })),
    },
    options: {
      ...common,
      scales: { y: { beginAtZero: true, title: { display: true, text: unit } } },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label ?? ''}: ${series[item.datasetIndex]?.texts[item.dataIndex] ?? ''}` } },
      },
    },
  }, pick);
}

/** A share of a whole (model mix). */
export function doughnut(canvas: HTMLCanvasElement, labels: readonly string[], values: readonly number[], texts: readonly string[], pick?: (index: number) => void): void {
  draw(canvas, {
    type: 'doughnut',
    data: { labels: [...labels], datasets: [{ data: [...values], backgroundColor: labels.map((_, i) => colour(i)), borderWidth: 1 }] },
    options: {
      ...common,
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (item) => `${item.label}: ${texts[item.dataIndex] ?? ''}` } },
      },
    },
  }, pick && ((_series, index) => pick(index)));
}
