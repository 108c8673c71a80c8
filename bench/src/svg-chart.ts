import type { ResultRow } from './types.js';

/** XML-escape text for SVG. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A value written compactly: 3 significant figures, no exponent. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

/** One bar chart: the headline figure (first figure) of each row of one case with the same metric. */
interface Panel {
  title: string;
  unit: string;
  better: string;
  bars: { label: string; value: number; larder: boolean }[];
}

/** Group rows into panels: one per (case, headline metric). */
export function panelsOf(rows: readonly ResultRow[]): Panel[] {
  const panels = new Map<string, Panel>();
  for (const r of rows) {
    const f = r.figures[0];
    if (!f || !Number.isFinite(f.value)) continue;
    const key = `${r.case}\u0000${f.metric}\u0000${f.unit}`;
    let p = panels.get(key);
    if (!p) {
      p = { title: `${r.case}: ${f.metric}`, unit: f.unit, better: f.better === 'lower' ? 'lower is better' : f.better === 'higher' ? 'higher is better' : '', bars: [] };
      panels.set(key, p);
    }
    p.bars.push({ label: r.system, value: f.value, larder: /larder/i.test(r.system) });
  }
  return [...panels.values()];
}

/** A hand-made SVG of horizontal bar charts, one panel per case, for a scenario's rows; undefined when there is nothing to draw. */
export function barChartSvg(title: string, rows: readonly ResultRow[]): string | undefined {
  const panels = panelsOf(rows);
  if (panels.length === 0) return undefined;
  const width = 820;
  const labelW = 330;
  const barMax = 380;
  const barH = 18;
  const gap = 6;
  const parts: string[] = [];
  let y = 34;
  parts.push(`<text x="10" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  for (const p of panels) {
    y += 12;
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${escapeXml(p.title)} (${escapeXml(p.unit)}${p.better ? `, ${p.better}` : ''})</text>`);
    y += 22;
    const max = Math.max(...p.bars.map((b) => b.value), 0) || 1;
    for (const b of p.bars) {
      const w = Math.max(1, Math.round((b.value / max) * barMax));
      const color = b.larder ? '#d9622b' : '#4a7ab8';
      parts.push(`<text x="${labelW - 8}" y="${y + barH - 5}" font-size="12" text-anchor="end">${escapeXml(b.label.length > 52 ? `${b.label.slice(0, 50)}…` : b.label)}</text>`);
      parts.push(`<rect x="${labelW}" y="${y}" width="${w}" height="${barH}" fill="${color}"/>`);
      parts.push(`<text x="${labelW + w + 6}" y="${y + barH - 5}" font-size="12">${escapeXml(formatValue(b.value))} ${escapeXml(p.unit)}</text>`);
      y += barH + gap;
    }
  }
  y += 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#ffffff"/>
${parts.join('\n')}
</svg>
`;
}
