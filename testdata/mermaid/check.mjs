// Parses each Mermaid file named on the command line with the real
// Mermaid parser (in jsdom, as it expects a DOM) and exits 1 if any fails.
// Run from the directory that holds node_modules:
//   node --input-type=module - FILE... < check.mjs
import { JSDOM } from 'jsdom';
import fs from 'fs';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await import('mermaid')).default;

for (const file of process.argv.slice(2)) {
  try {
    const result = await mermaid.parse(fs.readFileSync(file, 'utf8'));
    console.log(`${file}: ${result.diagramType}`);
  } catch (e) {
    console.log(`${file}: ${e.message}`);
    process.exitCode = 1;
  }
}
