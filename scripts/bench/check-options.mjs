// scripts/bench.sh's command line, checked before the script waits for /tmp/bench.lock: exits 2
// with the usage on a bad option (as the driver would), 0 otherwise. Nothing else is imported, so
// this answers at once however busy the machine.
import { parseArgs, USAGE, UsageError } from './options.mjs';

try {
  parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`[bench] ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
