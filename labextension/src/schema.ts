/**
 * Turn the API's JSON Schema (pydantic v2: $defs, $ref, anyOf-with-null for optional fields)
 * into one that JupyterLab's form component (rjsf) renders well, clean the form's data
 * before it is sent, and place the server's field errors on the fields they name.
 */

import type { IFieldError } from './types';

export type JSONSchema = { [key: string]: any };

/** rjsf's error schema: nested objects with `__errors` lists. */
export type ErrorTree = { __errors?: string[]; [key: string]: any };

export interface IPreparedSchema {
  schema: JSONSchema;
  /** Schema nodes whose value may be null (pydantic `X | None`): empty input sends nothing. */
  nullable: WeakSet<object>;
}

/** Formats the browser validator would enforce differently from the server (e.g. '5m'). */
const SERVER_ONLY_FORMATS = new Set(['duration']);

const MAX_DEPTH = 32;

/** Resolve `$ref`s, fold optional types into plain ones, drop server-only formats. */
export function prepareSchema(input: JSONSchema): IPreparedSchema {
  const defs: JSONSchema = {
    ...(input.$defs ?? {}),
    ...(input.definitions ?? {})
  };
  const nullable = new WeakSet<object>();

  const resolveRef = (ref: string): JSONSchema => {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    const target = match ? defs[decodeURIComponent(match[2])] : undefined;
    if (!target) {
      throw new Error(`unresolvable $ref ${ref}`);
    }
    return target;
  };

  const walk = (node: any, depth: number): any => {
    if (depth > MAX_DEPTH) {
      throw new Error('schema nests too deeply (recursive $ref?)');
    }
    if (Array.isArray(node)) {
      return node.map(item => walk(item, depth + 1));
    }
    if (!node || typeof node !== 'object') {
      return node;
    }
    let source: JSONSchema = node;
    if (typeof source.$ref === 'string') {
      const { $ref, ...siblings } = source;
      source = { ...resolveRef($ref), ...siblings };
    }
    const out: JSONSchema = {};
    for (const [key, value] of Object.entries(source)) {
      if (key === '$defs' || key === 'definitions') {
        continue;
      }
      if (key === 'format' && SERVER_ONLY_FORMATS.has(value as string)) {
        continue;
      }
      if (key === 'properties' && value && typeof value === 'object') {
        out.properties = Object.fromEntries(
          Object.entries(value as JSONSchema).map(([name, sub]) => [
            name,
            walk(sub, depth + 1)
          ])
        );
        continue;
      }
      out[key] = walk(value, depth + 1);
    }
    // `X | None`: anyOf [X, {type: null}] becomes X, remembered as nullable
    if (Array.isArray(out.anyOf) && out.anyOf.some(isNullType)) {
      const options = out.anyOf.filter((o: JSONSchema) => !isNullType(o));
      const { anyOf: _anyOf, ...rest } = out;
      void _anyOf;
      let folded: JSONSchema;
      if (options.length === 1) {
        folded = { ...options[0], ...rest };
      } else {
        folded = {
          ...rest,
          anyOf: options.map((o: JSONSchema) => ({
            title: optionTitle(o),
            ...o
          }))
        };
      }
      if (folded.default === null) {
        delete folded.default;
      }
      nullable.add(folded);
      return folded;
    }
    return out;
  };

  const schema = walk(input, 0) as JSONSchema;
  return { schema, nullable };
}

function isNullType(option: JSONSchema): boolean {
  return option && option.type === 'null';
}

function optionTitle(option: JSONSchema): string {
  if (option.title) {
    return option.title;
  }
  if (option.type === 'array') {
    return 'list';
  }
  return String(option.type ?? 'value');
}

/**
 * The data to send: drop `undefined`, and empty or null optional fields (the server's
 * default, null, applies); keep everything else as the user left it.
 */
export function cleanFormData(
  data: unknown,
  schema: JSONSchema | undefined,
  prepared: IPreparedSchema
): unknown {
  if (Array.isArray(data)) {
    const itemSchema =
      schema && !Array.isArray(schema.items) ? schema.items : undefined;
    return data
      .filter(item => item !== undefined && item !== null)
      .map(item => cleanFormData(item, itemSchema, prepared));
  }
  if (data && typeof data === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(
      data as Record<string, unknown>
    )) {
      const sub = childSchema(schema, key);
      if (value === undefined) {
        continue;
      }
      if (
        (value === '' || value === null) &&
        sub &&
        prepared.nullable.has(sub)
      ) {
        continue;
      }
      out[key] = cleanFormData(value, sub, prepared);
    }
    return out;
  }
  return data;
}

function childSchema(
  schema: JSONSchema | undefined,
  key: string
): JSONSchema | undefined {
  if (!schema) {
    return undefined;
  }
  if (schema.properties && key in schema.properties) {
    return schema.properties[key];
  }
  if (
    schema.additionalProperties &&
    typeof schema.additionalProperties === 'object'
  ) {
    return schema.additionalProperties;
  }
  return undefined;
}

/** "ports[0].name" -> ["ports", 0, "name"]; "" -> []. */
export function parseFieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(field)) !== null) {
    if (match[2] !== undefined) {
      out.push(Number(match[2]));
    } else if (/^\d+$/.test(match[1])) {
      out.push(Number(match[1]));
    } else {
      out.push(match[1]);
    }
  }
  return out;
}

/**
 * Place each server error on the deepest field of the form that its path names; what lies
 * beyond the form's fields (a union member, say) is kept in the message. Errors without a
 * field go on the form itself (the root `__errors`).
 */
export function errorsToTree(
  errors: IFieldError[],
  schema: JSONSchema
): ErrorTree {
  const tree: ErrorTree = {};
  for (const error of errors) {
    const path = parseFieldPath(error.field || '');
    let node: ErrorTree = tree;
    let current: JSONSchema | undefined = schema;
    let consumed = 0;
    for (const part of path) {
      const next = step(current, part);
      if (next === undefined) {
        break;
      }
      const key = String(part);
      node[key] = node[key] ?? {};
      node = node[key];
      current = next;
      consumed += 1;
    }
    const rest = path.slice(consumed);
    const message = rest.length
      ? `${formatPath(rest)}: ${error.message}`
      : error.message;
    node.__errors = [...(node.__errors ?? []), message];
  }
  return tree;
}

function step(
  schema: JSONSchema | undefined,
  part: string | number
): JSONSchema | undefined {
  if (!schema) {
    return undefined;
  }
  if (typeof part === 'number') {
    if (schema.type === 'array' || schema.items) {
      return (
        (Array.isArray(schema.items) ? schema.items[part] : schema.items) ?? {}
      );
    }
    return undefined;
  }
  if (schema.properties && part in schema.properties) {
    return schema.properties[part];
  }
  if (
    schema.additionalProperties &&
    typeof schema.additionalProperties === 'object'
  ) {
    return schema.additionalProperties;
  }
  return undefined;
}

function formatPath(path: (string | number)[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p))
    .join('');
}

/** A new spec's starting data: the schema's defaults for the top-level fields. */
export function defaultsFor(schema: JSONSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, sub] of Object.entries(
    (schema.properties ?? {}) as JSONSchema
  )) {
    if (sub && sub.default !== undefined && sub.default !== null) {
      out[name] = sub.default;
    }
  }
  return out;
}
