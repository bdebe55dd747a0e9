/**
 * Checks a value against a JSON Schema subset: type, const, enum, required, properties, additionalProperties
 * (false), items, minItems, minLength, maxLength, pattern, minimum, maximum. Returns the violations, each with
 * its JSON path; an unknown keyword is an error, so a fixture cannot silently ask for more than is checked.
 */
export type JsonShape = { readonly [keyword: string]: unknown };

const KNOWN = new Set(['$comment', '$schema', 'type', 'const', 'enum', 'required', 'properties', 'additionalProperties', 'items', 'minItems', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum']);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function shapeViolations(value: unknown, shape: JsonShape, path = '$'): string[] {
  for (const keyword of Object.keys(shape)) if (!KNOWN.has(keyword)) throw new Error(`${path}: unsupported keyword ${keyword}`);
  const out: string[] = [];
  const actual = typeOf(value);
  if (shape['type'] !== undefined) {
    const wanted = shape['type'] as string;
    if (!(actual === wanted || (wanted === 'number' && actual === 'integer'))) return [`${path}: expected ${wanted}, got ${actual}`];
  }
  if ('const' in shape && value !== shape['const']) out.push(`${path}: expected ${JSON.stringify(shape['const'])}, got ${JSON.stringify(value)}`);
  if (shape['enum'] !== undefined && !(shape['enum'] as unknown[]).includes(value)) out.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(shape['enum'])}`);
  if (typeof value === 'string') {
    if (typeof shape['minLength'] === 'number' && [...value].length < shape['minLength']) out.push(`${path}: shorter than ${shape['minLength']}`);
    if (typeof shape['maxLength'] === 'number' && [...value].length > shape['maxLength']) out.push(`${path}: longer than ${shape['maxLength']}`);
    if (typeof shape['pattern'] === 'string' && !new RegExp(shape['pattern'], 'u').test(value)) out.push(`${path}: ${JSON.stringify(value)} does not match ${shape['pattern']}`);
  }
  if (typeof value === 'number') {
    if (typeof shape['minimum'] === 'number' && value < shape['minimum']) out.push(`${path}: below ${shape['minimum']}`);
    if (typeof shape['maximum'] === 'number' && value > shape['maximum']) out.push(`${path}: above ${shape['maximum']}`);
  }
  if (Array.isArray(value)) {
    if (typeof shape['minItems'] === 'number' && value.length < shape['minItems']) out.push(`${path}: fewer than ${shape['minItems']} items`);
    if (shape['items'] !== undefined) value.forEach((item, i) => out.push(...shapeViolations(item, shape['items'] as JsonShape, `${path}[${i}]`)));
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of (shape['required'] as string[] | undefined) ?? []) if (!(key in object)) out.push(`${path}: missing ${key}`);
    const properties = (shape['properties'] as Record<string, JsonShape> | undefined) ?? {};
    for (const [key, child] of Object.entries(object)) {
      if (properties[key]) out.push(...shapeViolations(child, properties[key], `${path}.${key}`));
      else if (shape['additionalProperties'] === false) out.push(`${path}: unexpected property ${key}`);
    }
  }
  return out;
}
