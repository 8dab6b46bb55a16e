/**
 * What the server's backends can honour (GET svc/api/backends), applied to the form's schema:
 * a field the chosen backend refuses is left out of the form (unless the spec already sets it),
 * one nested in a list is marked in its help text.
 */

import { isBlank } from './changes';
import type { JSONSchema } from './schema';

export interface IBackendInfo {
  name: string;
  /** Dotted spec paths it refuses, list indices dropped: "image", "init.image". */
  unsupported: string[];
}

export interface IBackends {
  default: string;
  backends: IBackendInfo[];
}

/** The answer if it has the shape of GET backends' (an older server has no such route). */
export function asBackends(answer: unknown): IBackends | null {
  const body = answer as Partial<IBackends> | null;
  return body &&
    typeof body.default === 'string' &&
    Array.isArray(body.backends) &&
    body.backends.every(
      b => typeof b?.name === 'string' && Array.isArray(b.unsupported)
    )
    ? (body as IBackends)
    : null;
}

/** The part of `schema` a field path names, descending into list items; undefined if none. */
function nodeAt(schema: JSONSchema, path: string[]): JSONSchema | undefined {
  let node: JSONSchema | undefined = schema;
  for (const part of path) {
    while (
      node &&
      node.type === 'array' &&
      node.items &&
      !Array.isArray(node.items)
    ) {
      node = node.items;
    }
    node = node?.properties?.[part];
  }
  return node;
}

/**
 * A copy of the prepared `schema` for `backend`: unsupported top-level fields dropped (those
 * `keep` holds a value for stay, marked), nested ones marked; `backend` offered as a choice of
 * the server's backends.
 */
export function schemaForBackend(
  schema: JSONSchema,
  backends: IBackends | null,
  backend: string | null,
  keep: Record<string, unknown>,
  note: (backend: string) => string
): JSONSchema {
  const copy: JSONSchema = JSON.parse(JSON.stringify(schema));
  if (!backends) {
    return copy;
  }
  const name = backend || backends.default;
  if (copy.properties?.backend) {
    copy.properties.backend = {
      ...copy.properties.backend,
      type: 'string',
      enum: backends.backends.map(b => b.name)
    };
  }
  const info = backends.backends.find(b => b.name === name);
  for (const field of info?.unsupported ?? []) {
    const path = field.split('.');
    if (path.length === 1 && isBlank(keep[field])) {
      delete copy.properties?.[field];
      continue;
    }
    const node = nodeAt(copy, path);
    if (node) {
      node.description = [note(name), node.description]
        .filter(Boolean)
        .join(' ');
      node['x-unsupported'] = true;
    }
  }
  return copy;
}
