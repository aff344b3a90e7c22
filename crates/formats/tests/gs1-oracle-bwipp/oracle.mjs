// GS1 oracle for medchain's tests: BWIPP's GS1 processor (`gs1process`, Barcode Writer in Pure
// PostScript by Terry Burton, who also wrote GS1's Barcode Syntax Engine), as the npm package
// bwip-js ships it (MIT, pinned in package.json). It checks each AI's format, check digits and
// dates, and the GS1 Barcode Syntax Dictionary's rules: required AIs, AIs that may not appear
// together, an AI repeated with another value; and a Digital Link's key, qualifiers and query
// attributes.
//
// Reads a JSON array of scans from the file named by the first argument; prints a JSON array
// of verdicts, one per scan:
//   {"scan": s, "ok": true, "mode": "ai"|"dl"|"raw", "elements": [[ai, value], ...]}
//   {"scan": s, "ok": false, "mode": ..., "error": "bwipp.GS1missingAIs#...: ..."}
//
// A scan is read the way medchain reads one: surrounding whitespace and separators (0x1C to
// 0x1F) dropped; an optional symbology identifier (]C1 ]e0 ]d2 ]Q3 ]J1 for element strings,
// ]d1 ]Q1 ]d2 ]Q3 for Digital Links); then a Digital Link if it starts with "http" (any case),
// the human-readable form if it starts with "(" (whitespace around each "(AI)" is layout, as
// medchain reads it), else an element string.
//
// gs1process reads only the human-readable form and Digital Links. An element string is split
// here with BWIPP's own AI table (which AIs exist, their lengths, which have a predefined
// length), then handed to BWIPP in the human-readable form with "(", ")" and "^" escaped as
// ^040 ^041 ^094 (its "parse" option), so values may contain them. gs1process is not exported
// by bwip-js, so the installed dist/bwipp.mjs is loaded as source with a small accessor
// appended; the version is pinned because the accessor reads its internals.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const bwipDir = path.join(here, 'node_modules', 'bwip-js');
const bwippPath = path.join(bwipDir, 'dist', 'bwipp.mjs');
const accessor = `
export function __gs1process(text, mode, opts) {
  $k = [text, mode]; $j = 2;
  $_ = Object.assign({ dontlint: false, lintreqs: true, parse: false }, opts || {});
  bwipp_gs1process();
  const fncs = $k[--$j], vals = $k[--$j], ais = $k[--$j];
  const out = [];
  for (let i = 0; i < ais.length; i++) out.push([$z($get(ais, i)), $z($get(vals, i))]);
  return out;
}
export function __tables() {
  if (!bwipp_gs1process.globals) { try { __gs1process('(01)09521234543213', 'ai'); } catch (e) {} }
  return { gs1syntax: bwipp_gs1process.globals.gs1syntax, aifixed: bwipp_gs1process.globals.aifixed, $z, $get };
}
`;
const src = readFileSync(bwippPath, 'utf8') + accessor;
const bw = await import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));
const { gs1syntax, aifixed, $z, $get } = bw.__tables();

// Length of the value of a predefined-length AI: sum of its components' max lengths.
function fixedLength(ai) {
  const parts = gs1syntax.get(ai).get('parts');
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += $get(parts, i).get('max');
  return n;
}

const GS = '\x1d';
function rawToBracketed(s) {
  let pos = 0, out = '';
  while (pos < s.length) {
    let ai = null;
    for (let l = 2; l <= 4 && !ai; l++) if (gs1syntax.has(s.substr(pos, l))) ai = s.substr(pos, l);
    if (!ai) throw new Error('raw.unknownAI: no known AI at offset ' + pos + ': ' + JSON.stringify(s.substr(pos, 4)));
    pos += ai.length;
    let val;
    if (aifixed.has(ai.substr(0, 2))) {
      const n = fixedLength(ai);
      val = s.substr(pos, n);
      if (val.length < n) throw new Error(`raw.tooShort: AI (${ai}) needs ${n} characters`);
      pos += n;
      if (s[pos] === GS) pos++; // a superfluous separator after a predefined-length AI is tolerated
    } else {
      let end = s.indexOf(GS, pos);
      if (end < 0) end = s.length;
      val = s.substring(pos, end);
      pos = end;
      if (end < s.length) {
        pos = end + 1;
        if (pos === s.length) throw new Error('raw.trailingGS: separator at end of data');
      }
    }
    if (val.includes(GS)) throw new Error('raw.GSinValue');
    out += '(' + ai + ')' + val.replace(/[\^()]/g, c => '^' + String(c.charCodeAt(0)).padStart(3, '0'));
  }
  return out;
}

const AI_SYMS = new Set(['C1', 'e0', 'd2', 'Q3', 'J1']);
const DL_SYMS = new Set(['d1', 'd2', 'Q1', 'Q3']);

function verdict(scan) {
  let s = scan.replace(/^[\s\x1c-\x1f]+|[\s\x1c-\x1f]+$/g, '');
  let sym = null;
  if (s.startsWith(']') && s.length >= 3) { sym = s.substr(1, 2); s = s.substr(3); }
  let mode = /^http/i.test(s) ? 'dl' : s.startsWith('(') ? 'ai' : 'raw';
  const v = { scan, mode };
  if (sym !== null) v.symbology = sym;
  try {
    if (sym !== null && !(mode === 'dl' ? DL_SYMS : AI_SYMS).has(sym))
      throw new Error(`symbology ]${sym} does not carry ${mode === 'dl' ? 'a Digital Link' : 'GS1 element strings'}`);
    let elements;
    if (mode === 'dl') elements = bw.__gs1process(s, 'dl');
    else if (mode === 'ai') {
      // Whitespace around an AI in the human-readable form is layout, as printed under a
      // barcode ("(01) 0952... (21) ABC"); BWIPP's bracketed input has none.
      s = s.replace(/\s*\(\s*(\d+)\s*\)\s*/g, '($1)');
      elements = bw.__gs1process(s, 'ai');
    }
    else {
      if (s.startsWith(GS)) s = s.substr(1); // a leading FNC1 transmitted as GS
      elements = bw.__gs1process(rawToBracketed(s), 'ai', { parse: true });
    }
    return { ...v, ok: true, elements };
  } catch (e) {
    return { ...v, ok: false, error: String(e && e.message || e) };
  }
}

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
console.log("[\n" + input.map(s => JSON.stringify(verdict(s))).join(",\n") + "\n]");
