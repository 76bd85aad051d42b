/**
 * The practice plan timed in Chromium (Debian's /usr/bin/chromium through playwright-core): the
 * plan module is bundled with Vite for the browser, the facts are handed to the page, and the page
 * times `computePlan` (median of a few runs after a warm-up) and one incremental update, and
 * returns the plan's canonical JSON, which must equal the one Node computed: two engines, one plan.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, type Rolldown } from 'vite';
import type { LearnerFacts } from '../src/index.js';
import type { BenchLine } from './plan-bench.js';
import { BENCH_PLAN_OPTIONS } from './plan-measure.js';

const CHROMIUM = process.env['PREPMATE_CHROMIUM'] ?? '/usr/bin/chromium';
const ENTRY = fileURLToPath(new URL('./plan-browser-entry.ts', import.meta.url));

async function bundle(): Promise<string> {
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    resolve: { conditions: ['@prepmate/source', 'module', 'browser', 'production'] },
    build: { write: false, minify: false, lib: { entry: ENTRY, formats: ['iife'], name: 'PlanBench', fileName: 'plan-bench' } },
  });
  const outputs = (Array.isArray(out) ? out : [out]) as Rolldown.RolldownOutput[];
  const chunk = outputs.flatMap((o) => o.output).find((o): o is Rolldown.OutputChunk => o.type === 'chunk');
  if (!chunk) throw new Error('the browser bundle has no chunk');
  return chunk.code;
}

/** Times the plan in Chromium; returns whether its plan equals `nodePlan` (null when skipped). */
export async function benchPlanInChromium(facts: LearnerFacts, nodePlan: string, print: (line: BenchLine, extra: Record<string, unknown>) => void): Promise<boolean | null> {
  if (!existsSync(CHROMIUM)) {
    print({ metric: 'planFullChromium', value: -1, unit: 'ms' }, { skipped: `no Chromium at ${CHROMIUM} (set PREPMATE_CHROMIUM)` });
    return null;
  }
  const code = await bundle();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><title>plan bench</title>');
    await page.addScriptTag({ content: code });
    const result = await page.evaluate(
      ([json, options]) => (globalThis as unknown as { PlanBench: { run(facts: string, options: unknown): unknown } }).PlanBench.run(json, options),
      [JSON.stringify(facts), BENCH_PLAN_OPTIONS] as const,
    ) as { full: { median: number; max: number }; incremental: { median: number; max: number }; plan: string; userAgent: string };
    const same = result.plan === nodePlan;
    print({ metric: 'planFullChromium', value: result.full.median, unit: 'ms' }, { max: result.full.max, budgetMs: 50, samePlanAsNode: same, browser: result.userAgent.match(/Chrom(e|ium)\/[\d.]+/)?.[0] ?? 'chromium' });
    print({ metric: 'planIncrementalChromium', value: result.incremental.median, unit: 'ms' }, { max: result.incremental.max, budgetMs: 16 });
    return same;
  } finally {
    await browser.close();
  }
}
