#!/usr/bin/env node
// Fails when the TypeScript modules below the given folders import each other in a cycle.
//
//   node scripts/import-cycles.mjs app/src gateway/src
//
// Every relative import counts, `import type` and `export … from` included: a cycle of types is
// still two modules that cannot be understood, tested or moved one without the other. Prints
// each cycle found (its modules in import order, the first repeated last) and exits 1; prints
// nothing and exits 0 when there is none.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const importPattern =
  /(?:^|[;\s}])(?:import|export)\s(?:[^'"`;]*?\sfrom\s)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The .ts files below dir (declaration files left out). */
function sources(dir) {
  return readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && statSync(f).isFile());
}

/** The module a specifier names: './x.js' is ./x.ts in the sources; a folder is its index.ts. */
function resolve(from, specifier) {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** Strips comments, so an import in a comment (an example) is not read as an edge. */
function code(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function importGraph(dirs) {
  const graph = new Map();
  for (const dir of dirs) {
    for (const file of sources(dir)) {
      const edges = new Set();
      for (const m of code(readFileSync(file, 'utf8')).matchAll(importPattern)) {
        const target = resolve(file, m[1] ?? m[2]);
        if (target) edges.add(target);
      }
      graph.set(path.resolve(file), edges);
    }
  }
  return graph;
}

/**
 * One entry per strongly connected component of more than one module (or a self-import): every
 * module in it, and one shortest cycle through them to print.
 */
export function findCycles(graph) {
  // Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
  let index = 0;
  const indexOf = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const components = [];
  for (const start of graph.keys()) {
    if (indexOf.has(start)) continue;
    const work = [{ node: start, edges: [...(graph.get(start) ?? [])], i: 0 }];
    indexOf.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work.at(-1);
      if (frame.i < frame.edges.length) {
        const next = frame.edges[frame.i++];
        if (!graph.has(next)) continue;
        if (!indexOf.has(next)) {
          indexOf.set(next, index);
          low.set(next, index++);
          stack.push(next);
          onStack.add(next);
          work.push({ node: next, edges: [...(graph.get(next) ?? [])], i: 0 });
        } else if (onStack.has(next)) {
          low.set(frame.node, Math.min(low.get(frame.node), indexOf.get(next)));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node), low.get(frame.node)));
      if (low.get(frame.node) === indexOf.get(frame.node)) {
        const component = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfImport = graph.get(frame.node)?.has(frame.node);
        if (component.length > 1 || selfImport) components.push(component);
      }
    }
  }
  return components.map((component) => ({
    cycle: cycleWithin(graph, new Set(component)),
    modules: component.sort(),
  }));
}

/** A shortest path from the component's first module back to itself, inside the component. */
function cycleWithin(graph, members) {
  const [first] = [...members].sort();
  const previous = new Map([[first, null]]);
  const queue = [first];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === first) {
        const path = [first];
        for (let at = node; at !== null && at !== first; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, first];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [first, first];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    console.error('usage: node scripts/import-cycles.mjs DIR...');
    process.exit(2);
  }
  const cycles = findCycles(importGraph(dirs));
  const name = (f) => path.relative(process.cwd(), f);
  for (const { cycle, modules } of cycles) {
    console.log(`import cycle: ${cycle.map(name).join(' -> ')}`);
    console.log(`  ${modules.length} modules import each other: ${modules.map(name).join(', ')}`);
  }
  process.exit(cycles.length > 0 ? 1 : 0);
}
