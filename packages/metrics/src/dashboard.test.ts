import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initMetrics, registry } from './index.js';

const file = new URL('../../../infra/grafana/larder-dashboard.json', import.meta.url);

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

describe('the Grafana dashboard (infra/grafana/larder-dashboard.json)', () => {
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: Panel[]; templating: { list: { name: string }[] } };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('is valid JSON with queries', () => {
    expect(exprs.length).toBeGreaterThan(10);
  });

  it('references only metrics this code registers (histograms by their _bucket/_sum/_count series)', async () => {
    initMetrics('dashboard-test');
    const metrics = (await registry.getMetricsAsJSON()).map((m) => ({ name: m.name, type: String(m.type) }));
    const known = new Set(metrics.map((m) => m.name));
    for (const m of metrics) if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) known.add(m.name + s);
    const unknown = exprs.flatMap(({ panel, expr }) =>
      [...expr.matchAll(/\b(?:larder|process|nodejs)_[a-z0-9_]+/g)]
        .map((m) => m[0])
        .filter((n) => !known.has(n))
        .map((n) => `${panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('defines every variable its queries use (the price per 1,000 GETs among them)', () => {
    const defined = new Set(['__rate_interval', '__range', '__interval', ...dashboard.templating.list.map((v) => v.name)]);
    const used = exprs.flatMap(({ expr }) => [...expr.matchAll(/\$\{?(\w+)/g)].map((m) => m[1] as string));
    expect(used).toContain('price_per_1k_gets');
    expect(used.filter((v) => !defined.has(v))).toEqual([]);
  });
});
