// People's names: the rules the chat checks a name by, the name a sign-in
// gives, and the initial and colour of a name's avatar. No DOM.

import { MAX_NAME_CHARS } from './limits.js';

/** Where the page remembers the chosen name (localStorage, without sign-in). */
export const NAME_KEY = 'wschat.name';

/** The same rules as chat-core's check_name; null when the name is fine. */
export function nameProblem(name) {
  const chars = Array.from(name).length;
  if (chars === 0) return 'Please enter a name.';
  if (chars > MAX_NAME_CHARS) return `That is ${chars} characters; the limit is ${MAX_NAME_CHARS}.`;
  if (/\p{Cc}/u.test(name)) return 'A name cannot contain control characters.';
  if (name.startsWith('#')) return 'Names starting with # are kept for the chat itself.';
  return null;
}

/** The name a token's claims give: its name, else its email, else its subject. */
export function nameOfClaims(claims) {
  return [claims.name, claims.email, claims.sub].find((v) => typeof v === 'string' && v) || '';
}

/** A name's avatar colour: the same hue for the same name on every page. */
export function hue(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

/** The first character of a name, upper case: its avatar's letter. */
export function initial(name) {
  const first = Array.from(name.trim())[0] || '?';
  return first.toLocaleUpperCase();
}
