/**
 * The price-matching rule for models, written plainly for tests to check the indexed matcher against: the model
 * owns its entry, else its name without one version at the end (a date, four digits, a short number or `preview`),
 * then without the next; the first name with an entry owns it.
 */
export function modelOwner(model: string, hasEntry: (name: string) => boolean): string | undefined {
  const names = [model];
  for (let version; (version = /-(?:\d{4}-\d{2}-\d{2}|\d{4}|\d{1,3}(?:\.\d+)?|preview)$/i.exec(names.at(-1)!)) && version.index > 0; ) names.push(names.at(-1)!.slice(0, version.index));
  return names.find(hasEntry);
}
