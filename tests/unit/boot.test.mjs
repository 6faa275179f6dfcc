// wwwroot/boot.js revalidates every module before main.js is imported, so
// that a deploy's modules run together: its list must name every module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const wwwroot = new URL('../../wwwroot/', import.meta.url);
const source = (name) => readFileSync(new URL(name, wwwroot), 'utf8');

/** The modules a module imports, as `from './x.js'` or `import './x.js'` name them. */
function importsOf(name) {
  return [...source(name).matchAll(/^\s*(?:import|export)\b[^;]*?['"]\.\/([\w-]+\.js)['"]/gms)].map((m) => m[1]);
}

test('boot.js revalidates every module of the page, and imports none before it has', () => {
  const listed = source('boot.js').match(/const MODULES = \[([^\]]*)\]/)[1].match(/[\w-]+\.js/g);
  const modules = readdirSync(wwwroot).filter((name) => name.endsWith('.js') && name !== 'boot.js');
  assert.deepEqual([...listed].sort(), modules.sort());
  assert.deepEqual(importsOf('boot.js'), [], 'boot.js imports a module statically');
});

test('every module main.js reaches is one boot.js revalidates', () => {
  const listed = new Set(source('boot.js').match(/const MODULES = \[([^\]]*)\]/)[1].match(/[\w-]+\.js/g));
  const reached = new Set();
  const walk = (name) => {
    if (reached.has(name)) return;
    reached.add(name);
    for (const next of importsOf(name)) walk(next);
  };
  walk('main.js');
  assert.ok(reached.size > 5, `main.js reaches only ${[...reached]}`);
  for (const name of reached) assert.ok(listed.has(name), `${name} is not in boot.js's MODULES`);
});

test('index.html loads boot.js, and only it', () => {
  const scripts = [...source('index.html').matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(scripts, ['<script type="module" src="boot.js">']);
});
