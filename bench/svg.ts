// Hand-rolled SVG bar charts (no chart library): grouped bars, linear or log10 value axis,
// missing values drawn as a labelled gap ("n/a") instead of a zero bar.

export interface BarSeries {
  name: string;
  color: string;
}

export interface BarGroup {
  label: string;
  /** One value per series, in series order; null = not measured. */
  values: (number | null)[];
}

export interface BarChart {
  title: string;
  unit: string;
  series: BarSeries[];
  groups: BarGroup[];
  log?: boolean;
}

export const PALETTE = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b7791f', '#718096'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function formatValue(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

export function barChart(c: BarChart): string {
  const W = 760;
  const H = 380;
  const m = { top: 48, right: 20, bottom: 70, left: 80 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const values = c.groups.flatMap((g) => g.values).filter((v): v is number => v !== null && Number.isFinite(v) && (!c.log || v > 0));
  const maxV = values.length > 0 ? Math.max(...values) : 1;
  const minV = values.length > 0 ? Math.min(...values) : 1;
  let y: (v: number) => number;
  const ticks: number[] = [];
  if (c.log) {
    const lo = Math.floor(Math.log10(minV));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(maxV)));
    y = (v) => m.top + plotH - ((Math.log10(v) - lo) / (hi - lo)) * plotH;
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  } else {
    const step = niceStep(maxV / 5);
    const top = Math.ceil(maxV / step) * step || 1;
    y = (v) => m.top + plotH - (v / top) * plotH;
    for (let t = 0; t <= top + step / 2; t += step) ticks.push(t);
  }
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(c.title)}</text>`);
  for (const t of ticks) {
    const ty = y(t);
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#e2e8f0"/>`);
    out.push(`<text x="${m.left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end" fill="#4a5568">${esc(formatValue(t))}</text>`);
  }
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#4a5568">${esc(c.unit)}${c.log ? ' (log scale)' : ''}</text>`);
  const groupW = plotW / Math.max(1, c.groups.length);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(1, c.series.length));
  const base = m.top + plotH;
  c.groups.forEach((g, gi) => {
    const gx = m.left + gi * groupW + (groupW - barW * c.series.length) / 2;
    g.values.forEach((v, si) => {
      const x = gx + si * barW;
      const color = c.series[si]?.color ?? '#999';
      if (v === null || !Number.isFinite(v) || (c.log && v <= 0)) {
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${base - 4}" text-anchor="middle" fill="#a0aec0" font-size="10">n/a</text>`);
        return;
      }
      const top = y(v);
      out.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${Math.max(0.5, base - top).toFixed(1)}" fill="${color}"><title>${esc(`${g.label} ${c.series[si]?.name ?? ''}: ${formatValue(v)} ${c.unit}`)}</title></rect>`);
      out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" font-size="10">${esc(formatValue(v))}</text>`);
    });
    out.push(`<text x="${(m.left + gi * groupW + groupW / 2).toFixed(1)}" y="${base + 18}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${base}" y2="${base}" stroke="#4a5568"/>`);
  c.series.forEach((s, i) => {
    const lx = m.left + i * 170;
    out.push(`<rect x="${lx}" y="${H - 24}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 16}" y="${H - 14}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}
