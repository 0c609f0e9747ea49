// Extracts Ward's name and place lexicons from the @faker-js/faker npm package (MIT).
// Usage: npm pack @faker-js/faker && tar xzf faker-js-faker-*.tgz
//        node extract_lexicons.mjs <path to unpacked package/> <out dir src/deid/data> <out dir tests/deid/data>
// Writes one lowercase-insensitive entry per line, sorted, deduplicated. Names from locales not
// used for the lexicon are written to tests/deid/data/heldout_*.txt: the corpus generator
// uses them so that the tests see names the lexicon has never seen.
import fs from 'fs';
import path from 'path';
const [pkg, libOut, testOut] = process.argv.slice(2);
const flat = v => Array.isArray(v) ? v.flatMap(flat) : (v && typeof v === 'object') ? Object.values(v).flatMap(flat) : [v];
const load = async loc => (await import(path.resolve(pkg, `dist/locale/${loc}.js`))).faker.rawDefinitions;
const lexLocales = ['en', 'en_AU', 'en_IN', 'en_ZA', 'en_NG', 'en_GH', 'es', 'es_MX', 'fr', 'de', 'it', 'nl', 'pl', 'tr', 'ro', 'vi', 'id_ID'];
const heldLocales = ['fi', 'sv', 'hr', 'hu', 'da', 'nb_NO'];
const ok = s => typeof s === 'string' && /^[\p{L}][\p{L}'\- ]*[\p{L}]$/u.test(s) && s.length >= 2;
const collect = async (locs, f) => {
  const set = new Set();
  for (const l of locs) for (const s of flat(f(await load(l)))) if (ok(s)) set.add(s.trim());
  return set;
};
const first = await collect(lexLocales, d => d.person?.first_name ?? []);
const last = await collect(lexLocales, d => d.person?.last_name ?? []);
const cities = await collect(['en'], d => d.location?.city_name ?? []);
const counties = await collect(['en'], d => (d.location?.county ?? []).map(c => c.replace(/ County$/, '')));
const streets = await collect(['en'], d => d.location?.street_name ?? []);
const lower = s => new Set([...s].map(x => x.toLowerCase()));
const lf = lower(first), ll = lower(last);
const heldFirst = [...await collect(heldLocales, d => d.person?.first_name ?? [])].filter(s => !lf.has(s.toLowerCase()) && !ll.has(s.toLowerCase()) && !s.includes(' '));
const heldLast = [...await collect(heldLocales, d => d.person?.last_name ?? [])].filter(s => !lf.has(s.toLowerCase()) && !ll.has(s.toLowerCase()) && !s.includes(' '));
const write = (dir, name, set, header) => fs.writeFileSync(path.join(dir, name), [...set].sort().join('\n') + '\n');
write(libOut, 'first_names.txt', first);
write(libOut, 'last_names.txt', last);
write(libOut, 'cities.txt', cities);
write(libOut, 'counties.txt', counties);
write(libOut, 'street_names.txt', streets);
write(testOut, 'heldout_first_names.txt', heldFirst);
write(testOut, 'heldout_last_names.txt', heldLast);
console.log({ first: first.size, last: last.size, cities: cities.size, counties: counties.size, streets: streets.size, heldFirst: heldFirst.length, heldLast: heldLast.length });
