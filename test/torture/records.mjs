// The records torture writers append: each is determined by its tag, so a checker can tell a
// record that came back intact from one that did not, without being told what was written.

/** FNV-1a of a string: a stable hash for deriving a record from its tag. */
function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** The record a writer appends under `tag`; about one in five is marked for compaction to drop. */
export function recordFor(tag) {
  const h = hash(tag);
  const value = { tag, pad: String.fromCharCode(97 + (h % 26)).repeat(h % 600) };
  if (h % 5 === 0) value.drop = true;
  return value;
}

/** The compaction policy torture compactors use: drop the marked records. */
export const keepUnmarked = (rec) => rec.data?.drop !== true;
