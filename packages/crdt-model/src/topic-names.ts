/**
 * Topic ids and display names. A topic's id is what everything refers to (sessions, URLs, the
 * document key); its name is a register the learner can rename. A new topic's id is derived
 * from its name, so two devices that create "C++" offline create the same topic.
 */
import { cyrb53 } from './deterministic.js';
import { idSchema, topicNameSchema } from './schemas.js';

/**
 * The comparison form of a name: NFKC (full-width "Ｃ＋＋" is "C++"), lower case (locale-
 * independent), whitespace collapsed. Two names with the same key are the same topic.
 */
export function topicNameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/**
 * The id of a new topic called `name`: the name's key with spaces as "-" when that is a valid id
 * (so "System design" is `system-design`, the id earlier versions made), otherwise `u-` and a
 * 53-bit hash of the key in base 36 ("C++", "機械学習"). Deterministic on every device.
 * @throws ZodError when the name is not a valid topic name.
 */
export function topicIdForName(name: string): string {
  const key = topicNameKey(topicNameSchema.parse(name));
  const slug = key.replace(/ /g, '-');
  if (idSchema.safeParse(slug).success) return slug;
  return `u-${cyrb53(key).toString(36)}`;
}
