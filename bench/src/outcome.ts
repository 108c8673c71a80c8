import type { Better, Figure, Ratio, ResultRow, ScenarioOutcome } from './types.js';

/** A figure. */
export function fig(metric: string, value: number, unit: string, better?: Better): Figure {
  return better ? { metric, value, unit, better } : { metric, value, unit };
}

/** Collects a scenario's rows, ratios and notes. */
export class OutcomeBuilder {
  readonly rows: ResultRow[] = [];
  readonly ratios: Ratio[] = [];
  readonly notes: string[] = [];

  /** Add a row and return it. */
  row(r: ResultRow): ResultRow {
    this.rows.push(r);
    return r;
  }

  /** Add `numerator / denominator` of `metric` as a ratio when both rows exist and the denominator is not 0. */
  ratio(caseName: string, label: string, metric: string, numerator: ResultRow | undefined, denominator: ResultRow | undefined): void {
    const a = numerator?.figures.find((f) => f.metric === metric)?.value;
    const b = denominator?.figures.find((f) => f.metric === metric)?.value;
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return;
    this.ratios.push({ case: caseName, label, metric, value: a / b });
  }

  /** Add a note. */
  note(text: string): void {
    this.notes.push(text);
  }

  /** The finished outcome. */
  done(): ScenarioOutcome {
    return { rows: this.rows, ratios: this.ratios, notes: this.notes };
  }
}
