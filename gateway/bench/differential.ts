/**
 * A longer run of the differential harness (test/helpers/differential.ts): the gateway in
 * fastcgi, uwsgi and http mode behind nginx against node:http, on generated response programs
 * and requests. A failure prints its seed and counterexample: keep it in
 * test/e2e/differential.test.ts as a regression case.
 *
 *   node gateway/dist/bench/differential.js [RUNS] [SEED]
 */
import fc from 'fast-check';
import { differences, programArb, requestArb, startHarness } from '../test/helpers/differential.js';

const runs = Number(process.argv[2] ?? 500);
const seed =
  process.argv[3] === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.argv[3]);
process.stdout.write(`differential run: ${runs} cases, seed ${seed}\n`);
const harness = await startHarness();
let exitCode = 0;
try {
  const started = Date.now();
  const result = await fc.check(
    fc.asyncProperty(programArb, requestArb, async (program, spec) => {
      const found = differences(await harness.exchange(program, spec), spec, !program.readBody);
      if (found.length > 0) throw new Error(found.join('\n'));
    }),
    { numRuns: runs, seed },
  );
  if (result.failed) {
    exitCode = 1;
    process.stdout.write(`${fc.defaultReportMessage(result)}\n`);
  } else {
    process.stdout.write(
      `no difference in ${result.numRuns} cases (${Math.round((Date.now() - started) / 1000)} s)\n`,
    );
  }
} finally {
  await harness.close();
}
process.exitCode = exitCode;
