// Regenerates js_json_golden.json: inputs and what Node's JSON.stringify(JSON.parse(input))
// gives for them. Run with `node gen_js_json_golden.mjs > js_json_golden.json`.
// The Rust side (tests/js_json.rs) must produce the same output for every input.
import crypto from 'node:crypto';

const out = [];
const add = (input) => out.push([input, JSON.stringify(JSON.parse(input))]);

// Deterministic pseudo-random doubles from a fixed seed (SHA-256 counter mode).
let counter = 0;
function bytes8() {
  const h = crypto.createHash('sha256').update(String(counter++)).digest();
  return h.subarray(0, 8);
}
const view = new DataView(new ArrayBuffer(8));
for (let i = 0; i < 1000; i++) {
  const b = bytes8();
  for (let j = 0; j < 8; j++) view.setUint8(j, b[j]);
  const x = view.getFloat64(0);
  if (!Number.isFinite(x)) continue;
  // Several spellings of the same double, and a few that round to a neighbour.
  add(x.toPrecision(17));
  if (i % 3 === 0) add(x.toExponential(20).replace('e+', 'E+'));
  if (i % 5 === 0) add(String(x));
}
for (let e = -330; e <= 310; e += 3) add(`1e${e}`), add(`-7.5e${e}`), add(`123456789e${e}`);
for (let i = 0; i < 200; i++) {
  const b = bytes8();
  const n = b.readBigUInt64BE(0) >> BigInt(b[0] % 64);
  add(String(n));
  add('-' + String(n));
  add(`0.${String(n).padStart(i % 30, '0')}`);
}
for (const s of [
  '0.1', '0.2', '0.30000000000000004', '1.7976931348623157e308', '5e-324', '2.2250738585072014e-308',
  '9007199254740993', '-0', '-0.0', '0e0', '1E+2', '100e-2', '1.0', '1e21', '1e20', '999999999999999999999',
  '0.000001', '0.0000001', '123.456e-10', '4.35', '0.1e1', '1e-7',
]) add(s);
for (const s of [
  '{"b":1,"10":2,"2":3,"a":4,"4294967294":5,"4294967295":6,"01":7,"-1":8}',
  '{"a":1,"b":2,"a":3}',
  '{"__proto__":{"x":1},"constructor":2}',
  '"\\u00e9\\/\\u2028\\u2029\\ud83d\\ude00\\ud800\\udc00"',
  '"\\ud800" ', '"\\udc00\\ud800"', '"\\ud800\\u0041"', '"\\ud800\\ud800\\udc00"',
  '"\\u0000\\u001f\\u007f\\u0080\\b\\f\\n\\r\\t\\"\\\\"',
  ' [ 1 , { "x" : [ ] , "y" : { } } , "s" , true , false , null ] ',
  '{"nested":{"z":{"2":0,"1":[{"b":1,"a":2}]}}}',
  '"héllo ✓ 𝄞"',
]) add(s);
process.stdout.write(JSON.stringify(out, null, 0));
