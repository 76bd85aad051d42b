/**
 * docs/openapi.yaml as test material: the parsed document, a JSON Schema 2020-12 validator over
 * it (ajv; OpenAPI 3.1 schemas are JSON Schema 2020-12), and fast-check arbitraries generated
 * from its schemas. The validator is the oracle ("does the spec allow this?"); the generator
 * only has to reach both sides of it, so it may be looser than the spec.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc, { type Arbitrary } from 'fast-check';
import { parse } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Schema = { [key: string]: Json };

const specPath = fileURLToPath(new URL('../../../../docs/openapi.yaml', import.meta.url));

export interface OpenApiDoc {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, Schema>>;
  readonly components: Schema;
}

export function loadSpec(): OpenApiDoc {
  return parse(readFileSync(specPath, 'utf8')) as OpenApiDoc;
}

/** The node a local `#/…` reference points at. */
export function resolveRef(spec: OpenApiDoc, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`not a local ref: ${ref}`);
  let node: Json = spec as unknown as Json;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = (node as Record<string, Json> | null)?.[part] ?? null;
    if (node === null) throw new Error(`unresolved ${ref}`);
  }
  return node as Schema;
}

const deref = (spec: OpenApiDoc, node: Schema): Schema => (typeof node['$ref'] === 'string' ? deref(spec, resolveRef(spec, node['$ref'])) : node);

/**
 * ajv reads the branch of a `discriminator` from each branch's `const` and refuses `mapping`;
 * {@link discriminatorMappingErrors} checks that the mappings name the same branches.
 */
function withoutDiscriminatorMappings(spec: OpenApiDoc): OpenApiDoc {
  return JSON.parse(JSON.stringify(spec), (key, value: unknown) =>
    key === 'discriminator' && typeof value === 'object' && value !== null ? { propertyName: (value as { propertyName: string }).propertyName } : value,
  ) as OpenApiDoc;
}

/** Every `discriminator.mapping` entry names a branch whose property is that very const. */
export function discriminatorMappingErrors(spec: OpenApiDoc): string[] {
  const errors: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const d = (node as { discriminator?: { propertyName: string; mapping?: Record<string, string> } }).discriminator;
      if (d?.mapping) {
        const branches = ((node as { oneOf?: Schema[] }).oneOf ?? []).map((b) => b['$ref']);
        for (const [value, ref] of Object.entries(d.mapping)) {
          if (!branches.includes(ref)) errors.push(`${ref} is not a oneOf branch`);
          const prop = (resolveRef(spec, ref)['properties'] as Record<string, Schema> | undefined)?.[d.propertyName];
          if (prop?.['const'] !== value) errors.push(`${ref}.${d.propertyName} is not const ${value}`);
        }
        if (Object.keys(d.mapping).length !== branches.length) errors.push('a branch has no mapping');
      }
      Object.values(node).forEach(visit);
    }
  };
  visit(spec);
  return errors;
}

/** Validators compiled against the whole document, so every `#/components/…` ref resolves. */
export class SpecValidator {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(private readonly spec: OpenApiDoc) {
    // `discriminator` is OpenAPI's; ajv checks it (and that the oneOf branches are disjoint on it).
    this.ajv = new Ajv2020({ strict: false, allErrors: false, discriminator: true, unicodeRegExp: true });
    // Every date-time of the document carries an exact pattern; the format is only a label.
    this.ajv.addFormat('date-time', true);
    // Plan days are calendar dates (YYYY-MM-DD, the learner's day): checked, not just named.
    this.ajv.addFormat('date', /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
    this.ajv.addSchema({ ...(withoutDiscriminatorMappings(spec) as unknown as Schema), $id: 'spec' } as object, 'spec');
  }

  /** A validator for a schema given inline (its `#/…` refs point into the document). */
  compile(schema: Schema, key: string): ValidateFunction {
    let fn = this.cache.get(key);
    if (!fn) {
      const withRefs = JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/', '"$ref":"spec#/')) as object;
      fn = this.ajv.compile(withRefs);
      this.cache.set(key, fn);
    }
    return fn;
  }

  /** Validator of a component schema, e.g. `TrackRequest`. */
  component(name: string): ValidateFunction {
    return this.compile({ $ref: `#/components/schemas/${name}` }, `component:${name}`);
  }

  /** Errors of `body` against the documented response `status` of an operation ([] when it matches). */
  responseErrors(path: string, method: string, status: number, body: unknown, contentType: string | null): string[] {
    const op = this.spec.paths[path]?.[method.toLowerCase()];
    if (!op) return [`${method} ${path} is not documented`];
    const responses = op['responses'] as Record<string, Schema>;
    const documented = responses[String(status)];
    if (!documented) return [`${method} ${path} does not document ${status} (documents ${Object.keys(responses).join(', ')})`];
    const response = deref(this.spec, documented);
    const content = response['content'] as Record<string, { schema: Schema }> | undefined;
    if (!content) return [];
    const json = content['application/json'];
    if (!json) return contentType?.startsWith('text/plain') && content['text/plain'] ? [] : [`${status} is documented as ${Object.keys(content).join(', ')}, got ${contentType}`];
    const fn = this.compile(json.schema, `response:${method} ${path} ${status}`);
    return fn(body) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath || '$'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }
}

/** Per-schema replacements for the generator, keyed by the schema object they replace. */
export type Overrides = Map<Schema, Arbitrary<Json>>;

export interface GenerateOptions {
  readonly overrides?: Overrides;
  /** Properties never generated (e.g. `userId`: who may name whom is authorization, not shape). */
  readonly skip?: ReadonlySet<string>;
  /** Longest generated string / array when the schema allows more. */
  readonly maxLength?: number;
  readonly maxItems?: number;
}

/** Lookaheads are not generatable; the oracle catches the few strings they would exclude. */
const generatablePattern = (pattern: string): RegExp => new RegExp(pattern.replace(/\(\?[!=](?:[^()]|\([^()]*\))*\)/g, ''), 'u');

/** A fast-check arbitrary of (mostly) valid values of a schema of the document. */
export function arbitraryOf(spec: OpenApiDoc, schema: Schema, options: GenerateOptions = {}, depth = 3): Arbitrary<Json> {
  const override = options.overrides?.get(schema);
  if (override) return override;
  if (typeof schema['$ref'] === 'string') {
    return arbitraryOf(spec, resolveRef(spec, schema['$ref']), options, depth);
  }
  if ('const' in schema) return fc.constant(schema['const'] as Json);
  if (Array.isArray(schema['enum'])) return fc.constantFrom(...(schema['enum'] as Json[]));
  if (Array.isArray(schema['oneOf'])) return fc.oneof(...(schema['oneOf'] as Schema[]).map((s) => arbitraryOf(spec, s, options, depth)));
  if (Array.isArray(schema['anyOf']) && schema['type'] === undefined && schema['properties'] === undefined) {
    const branches = (schema['anyOf'] as Schema[]).filter((s) => depth > 0 || s['type'] !== 'array' && s['$ref'] === undefined);
    return fc.oneof(...branches.map((s) => arbitraryOf(spec, s, options, depth - 1)));
  }
  const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : typeof schema['type'] === 'string' ? [schema['type']] : schema['properties'] ? ['object'] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => arbitraryOf(spec, { ...schema, type }, options, depth)));
  const maxLength = options.maxLength ?? 24;
  switch (types[0]) {
    case 'string': {
      const max = Math.min(typeof schema['maxLength'] === 'number' ? schema['maxLength'] : maxLength, maxLength);
      const min = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
      if (typeof schema['pattern'] === 'string') return fc.stringMatching(generatablePattern(schema['pattern']));
      return fc.string({ minLength: min, maxLength: Math.max(min, max) });
    }
    case 'integer':
      return fc.integer({ min: typeof schema['minimum'] === 'number' ? schema['minimum'] : -1e6, max: typeof schema['maximum'] === 'number' ? schema['maximum'] : 1e6 });
    case 'number':
      return fc.double({ min: typeof schema['minimum'] === 'number' ? schema['minimum'] : -1e6, max: typeof schema['maximum'] === 'number' ? schema['maximum'] : 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = (schema['items'] as Schema | undefined) ?? {};
      const max = Math.min(typeof schema['maxItems'] === 'number' ? schema['maxItems'] : options.maxItems ?? 3, options.maxItems ?? 3);
      const min = typeof schema['minItems'] === 'number' ? schema['minItems'] : 0;
      return depth <= 0 && min === 0 ? fc.constant([]) : fc.array(arbitraryOf(spec, items, options, depth - 1), { minLength: min, maxLength: Math.max(min, max) });
    }
    case 'object': {
      const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
      const required = new Set((schema['required'] as string[] | undefined) ?? []);
      const model: Record<string, Arbitrary<Json>> = {};
      for (const [key, s] of Object.entries(props)) if (!options.skip?.has(key) || required.has(key)) model[key] = arbitraryOf(spec, s, options, depth - 1);
      const known = fc.record(model, { requiredKeys: [...required].filter((k) => k in model) }) as Arbitrary<Record<string, Json>>;
      const extra = schema['additionalProperties'];
      if (depth <= 0 || extra === false || extra === undefined) return known;
      const extraArb = typeof extra === 'object' && extra !== null ? arbitraryOf(spec, extra as Schema, options, depth - 1) : fc.constant<Json>(null);
      const extras = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !(k in props)), extraArb, { maxKeys: 2 });
      return fc.tuple(known, extras).map(([k, e]) => ({ ...e, ...k }));
    }
    default:
      return fc.constant(null);
  }
}

/** One edit that can make a valid body invalid (or leave it valid: the oracle decides). */
export interface Mutation {
  readonly at: number;
  readonly op: 'delete' | 'replace' | 'forbidden-key';
  readonly value: Json;
  readonly key: '__proto__' | 'constructor' | 'prototype';
}

export const mutationArb: Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'forbidden-key'),
  value: fc.constantFrom<Json>(null, 0, -1, 2.5, 1e9, true, '', 'x', 'Not_Lower', 'constructor', '__proto__', 'a'.repeat(129), [], {}, { a: 1 }, '2025-13-01T00:00:00Z'),
  key: fc.constantFrom('__proto__', 'constructor', 'prototype'),
});

/** Applies mutations to a deep copy of `value` (containers are numbered in walk order). */
export function mutate(value: Json, mutations: readonly Mutation[], rootOnly = false): Json {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  for (const m of mutations) {
    const containers: (Json[] | Record<string, Json>)[] = [];
    const walk = (v: Json): void => {
      if (v !== null && typeof v === 'object') {
        containers.push(v);
        for (const child of Array.isArray(v) ? v : Object.values(v)) walk(child);
      }
    };
    walk(copy);
    if (containers.length === 0) continue;
    const at = rootOnly ? 0 : m.at % containers.length;
    const target = containers[at]!;
    const keys = Array.isArray(target) ? target.map((_, i) => i) : Object.keys(target);
    if (m.op === 'forbidden-key') {
      if (Array.isArray(target)) continue;
      // An own property named like this, as JSON.parse makes it on the server.
      Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
      continue;
    }
    if (keys.length === 0) continue;
    const key = keys[(rootOnly ? m.at : Math.floor(m.at / containers.length)) % keys.length]!;
    if (m.op === 'delete') {
      if (Array.isArray(target)) target.splice(key as number, 1);
      else delete target[key as string];
    } else if (Array.isArray(target)) {
      target[key as number] = m.value;
    } else {
      target[key as string] = m.value;
    }
  }
  return copy;
}
