import type { IndexTerm, Primitive } from '../query/index.js';
import type { PathIndex } from './path-index.js';

/** The index of a lower-cased path, when one exists. */
export type IndexOf = (path: readonly string[]) => PathIndex<unknown> | undefined;

/** How a term's candidates would be read: how many keys (at most), and reading them. */
interface Step {
  readonly estimate: number;
  collect(out: string[]): void;
}

/**
 * The keys a WHERE's index terms allow (docs/scaling.md §3.2), or undefined when the indexes cannot
 * answer it more cheaply than a scan: a term on a path without an index, or more than `cap`
 * candidates. AND reads its most selective answerable operand and keeps the keys every other
 * answerable operand also allows (operands nothing indexes are left to the compiled query); OR
 * needs all of its operands answerable and unites them. The keys may repeat and come in no order.
 */
export function candidateKeys(term: IndexTerm, indexOf: IndexOf, cap: number): string[] | undefined {
  const step = plan(term, indexOf, cap);
  if (step === undefined || step.estimate > cap) return undefined;
  const out: string[] = [];
  step.collect(out);
  return out;
}

function plan(term: IndexTerm, indexOf: IndexOf, cap: number): Step | undefined {
  switch (term.kind) {
    case 'values': {
      const index = indexOf(term.path);
      if (index === undefined) return undefined;
      return valuesStep(index, term.values);
    }
    case 'range':
    case 'prefix': {
      const index = indexOf(term.path);
      if (index === undefined) return undefined;
      const values = index.valuesIn(term, cap);
      return values === undefined ? { estimate: Number.POSITIVE_INFINITY, collect: () => {} } : valuesStep(index, values);
    }
    case 'and': {
      const steps: { step: Step; term: IndexTerm }[] = [];
      for (const t of term.terms) {
        const step = plan(t, indexOf, cap);
        if (step !== undefined) steps.push({ step, term: t });
      }
      if (steps.length === 0) return undefined;
      steps.sort((a, b) => a.step.estimate - b.step.estimate);
      const [base, ...others] = steps;
      return {
        estimate: base!.step.estimate,
        collect: (out) => {
          const tests = others.map((o) => keyTest(o.term, indexOf));
          const keys: string[] = [];
          base!.step.collect(keys);
          for (const key of keys) if (tests.every((t) => t(key))) out.push(key);
        },
      };
    }
    case 'or': {
      const steps: Step[] = [];
      let estimate = 0;
      for (const t of term.terms) {
        const step = plan(t, indexOf, cap);
        if (step === undefined) return undefined;
        steps.push(step);
        estimate += step.estimate;
      }
      return {
        estimate,
        collect: (out) => {
          for (const s of steps) s.collect(out);
        },
      };
    }
  }
}

function valuesStep(index: PathIndex<unknown>, values: readonly Primitive[]): Step {
  return { estimate: index.countOf(values), collect: (out) => index.keysOf(values, out) };
}

/** Whether the indexes allow a key under `term` (true where no index answers: the compiled query decides). */
function keyTest(term: IndexTerm, indexOf: IndexOf): (key: string) => boolean {
  switch (term.kind) {
    case 'and': {
      const tests = term.terms.map((t) => keyTest(t, indexOf));
      return (key) => tests.every((t) => t(key));
    }
    case 'or': {
      const tests = term.terms.map((t) => keyTest(t, indexOf));
      return (key) => tests.some((t) => t(key));
    }
    default: {
      const index = indexOf(term.path);
      if (index === undefined) return () => true;
      const test = valueTest(term);
      return (key) => index.holds(key, test);
    }
  }
}

function valueTest(term: Exclude<IndexTerm, { kind: 'and' | 'or' }>): (v: unknown) => boolean {
  switch (term.kind) {
    case 'values': {
      const set = new Set<unknown>(term.values);
      return (v) => set.has(v);
    }
    case 'prefix':
      return (v) => typeof v === 'string' && v.startsWith(term.prefix);
    case 'range': {
      const { lower, upper } = term;
      const type = typeof (lower ?? upper)!.value;
      return (v) => {
        if (typeof v !== type) return false;
        const x = v as string | number;
        if (lower !== undefined && (x < lower.value || (!lower.inclusive && x === lower.value))) return false;
        if (upper !== undefined && (x > upper.value || (!upper.inclusive && x === upper.value))) return false;
        return true;
      };
    }
  }
}

/** Every lower-cased path the terms name, each once. */
export function pathsOf(term: IndexTerm, out = new Map<string, readonly string[]>()): Map<string, readonly string[]> {
  switch (term.kind) {
    case 'and':
    case 'or':
      for (const t of term.terms) pathsOf(t, out);
      break;
    default:
      out.set(pathId(term.path), term.path);
  }
  return out;
}

export function pathId(path: readonly string[]): string {
  return path.join('\u0000');
}
