/** The statistics the benchmarks report: medians and a least-squares line with its confidence interval. */

/**
 * The `p` quantile (0–1) of an ascending sample, nearest rank below; NaN for an empty sample. The benchmarks'
 * one percentile: `npm run load`, which runs for hours, keeps a histogram instead (scripts/lib/latency.ts).
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Student's t for a two-sided 95% interval, by degrees of freedom (1–30); beyond 30, the normal 1.96. */
const T_95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function t95(degreesOfFreedom: number): number {
  return T_95[degreesOfFreedom - 1] ?? 1.96;
}

export interface LinearFit {
  slope: number;
  intercept: number;
  /** The slope's 95% confidence interval. */
  slopeLow: number;
  slopeHigh: number;
}

/** Ordinary least squares of y on x, with the slope's 95% interval (needs at least three points). */
export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = xs.length;
  if (n < 3 || ys.length !== n) throw new Error(`a fitted slope needs 3 or more (x, y) pairs, got ${n}`);
  const meanX = xs.reduce((sum, x) => sum + x, 0) / n;
  const meanY = ys.reduce((sum, y) => sum + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ((xs[i] as number) - meanX) ** 2;
    sxy += ((xs[i] as number) - meanX) * ((ys[i] as number) - meanY);
  }
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  let residuals = 0;
  for (let i = 0; i < n; i++) residuals += ((ys[i] as number) - (intercept + slope * (xs[i] as number))) ** 2;
  const standardError = Math.sqrt(residuals / (n - 2) / sxx);
  const margin = t95(n - 2) * standardError;
  return { slope, intercept, slopeLow: slope - margin, slopeHigh: slope + margin };
}

/** A series' growth per 10,000 orders as a share of the fitted start: the slope, its 95% interval, the goal. */
export interface GrowthPer10k {
  fit: LinearFit;
  pct: number;
  interval: [number, number];
  /** The drift goal: an interval that includes 0, or lies under 1% per 10,000 orders. */
  withinGoal: boolean;
}

/** Fits `[orders, value]` points and expresses the slope as growth per 10,000 orders. */
export function growthPer10k(points: ReadonlyArray<readonly [number, number]>): GrowthPer10k {
  const fit = linearFit(
    points.map(([orders]) => orders),
    points.map(([, value]) => value),
  );
  const pctOf = (perOrder: number) => ((perOrder * 10_000) / fit.intercept) * 100;
  const interval: [number, number] = [pctOf(fit.slopeLow), pctOf(fit.slopeHigh)];
  return {
    fit,
    pct: pctOf(fit.slope),
    interval,
    withinGoal: (interval[0] <= 0 && interval[1] >= 0) || interval[1] < 1,
  };
}
