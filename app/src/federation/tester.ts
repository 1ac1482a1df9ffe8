/**
 * `manage mapping-engine`: keystone-manage mapping_engine (keystone/cmd/cli.py
 * MappingEngineTester). Reads a mapping's rules (a JSON list, or an object with `rules`) and an
 * assertion file (`KEY: value` a line, `;` separating a list's values), checks the rules against
 * Keystone's schema, runs the engine and prints the mapped properties as Python's
 * json.dumps(indent=2) writes them; with --engine-debug, first the rules and the assertion used,
 * and the engine's debug lines, as Keystone's log writes them (the time and pid are this run's).
 */
import { type DebugLog, type Rule, RuleProcessor } from './engine.js';
import { validateMappingStructure } from './schema.js';

export interface TesterInput {
  rulesPath: string;
  rulesText: string;
  inputPath: string;
  inputText: string;
  prefix?: string | undefined;
  debug?: boolean;
}

/** Python's json.dumps(value, indent=2): JSON.stringify's layout, non-ASCII as \uXXXX. */
export function pyJsonDumps(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
  );
}

/** The tester's normalize_assertion: `KEY: value` lines, keys and values stripped. */
export function readAssertion(text: string, path: string, prefix?: string): Record<string, string> {
  const assertion: Record<string, string> = {};
  text
    .trim()
    .split(/\r\n|\r|\n/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '') return;
      const colon = line.indexOf(':');
      if (colon < 0)
        throw new Error(
          `assertion file ${path} at line ${index + 1} expected 'key: value' but found '${line}' see help for file format`,
        );
      const key = line.slice(0, colon).trim();
      if (!prefix || key.startsWith(prefix)) assertion[key] = line.slice(colon + 1).trim();
    });
  return assertion;
}

/** What the tester prints on stdout (the engine's debug lines in their place, when asked). */
export function mappingEngine(input: TesterInput): string {
  let rules: unknown;
  try {
    rules = JSON.parse(input.rulesText);
  } catch (err) {
    throw new Error(`Error while parsing rules ${input.rulesPath}: ${(err as Error).message}`);
  }
  const mapping = Array.isArray(rules) ? { rules } : rules;
  validateMappingStructure(mapping);
  const assertion = readAssertion(input.inputText, input.inputPath, input.prefix);
  const out: string[] = [];
  if (input.debug) {
    out.push(`Using Rules:\n${pyJsonDumps(mapping)}`);
    out.push(`Using Assertion:\n${pyJsonDumps(assertion)}`);
  }
  const debug: DebugLog = input.debug
    ? (message) =>
        out.push(`${logTime(new Date())} ${process.pid} DEBUG keystone.federation.utils [-] ${message}`)
    : () => {};
  const processor = new RuleProcessor(randomHex(), (mapping as { rules: Rule[] }).rules, debug);
  out.push(pyJsonDumps(processor.process(assertion)));
  return out.join('\n');
}

/** oslo.log's time: `2026-12-04 15:13:29.631`. */
function logTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

function randomHex(): string {
  return crypto.randomUUID().replaceAll('-', '');
}
