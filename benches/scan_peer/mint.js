// The peer in `cargo bench --bench scan_peer`: mint-filter (npm, MIT), the
// Aho-Corasick 敏感词 filter, as a whole Node process doing what `qunbot scan`
// does: load the word list (one word a line; `[category]` headers and `#`
// comments skipped), then one filter() call per stdin line and one JSON line out.
'use strict';
const fs = require('fs');
const readline = require('readline');
const { Mint } = require('mint-filter');

const words = fs
  .readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .map((w) => w.trim())
  .filter((w) => w && !w.startsWith('#') && !w.startsWith('['));
const mint = new Mint(words);
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let out = [];
let n = 0;
lines.on('line', (line) => {
  n += 1;
  const found = mint.filter(line, { replace: false });
  out.push(JSON.stringify({ line: n, hits: found.words }));
  if (out.length === 1024) {
    process.stdout.write(out.join('\n') + '\n');
    out = [];
  }
});
lines.on('close', () => {
  if (out.length) process.stdout.write(out.join('\n') + '\n');
});
