/**
 * The short part of the service form: name, what runs, port, idle window, public, description.
 * Titles and help come from the spec's JSON Schema (pydantic `title` / `description`), so the
 * panel says what the API's schema and the notebook widgets say. Markup as rjsf's (`form-group`,
 * `validationErrors`) so that the advanced part below and this one look and read alike.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import {
  CommandSyntaxError,
  joinArgv,
  shellLooking,
  splitCommand
} from './argv';
import type { JSONSchema } from './schema';
import type { IServiceSpec } from './types';

/** The fields the basic part edits (the advanced part gets the rest of the schema). */
export const BASIC_FIELDS = [
  'name',
  'command',
  'shell',
  'port',
  'scale_to_zero',
  'public',
  'description'
] as const;

/** Examples shown in empty fields: code, not prose to translate. */
const EXAMPLE_NAME = 'my-app';
const EXAMPLE_COMMAND = 'python3 -m http.server {port} --bind 127.0.0.1';

export interface IBasicValues {
  name: string;
  /** The command as one line (shell: the string /bin/sh runs). */
  command: string;
  shell: boolean;
  port: string;
  scale_to_zero: string;
  public: boolean;
  description: string;
}

export function basicFrom(spec: IServiceSpec | null): IBasicValues {
  const command = spec?.command;
  return {
    name: spec?.name ?? '',
    command:
      typeof command === 'string'
        ? command
        : Array.isArray(command)
          ? joinArgv(command)
          : '',
    shell: spec?.shell ?? false,
    port: String(spec?.port ?? 0),
    scale_to_zero: (spec?.scale_to_zero as string | null | undefined) ?? '',
    public: spec?.public ?? false,
    description: spec?.description ?? ''
  };
}

/** The argv a command line runs, or why it cannot be read. */
export function argvOf(values: IBasicValues): {
  argv: string[] | null;
  error: string | null;
} {
  if (values.shell) {
    return { argv: ['/bin/sh', '-c', values.command], error: null };
  }
  try {
    return { argv: splitCommand(values.command), error: null };
  } catch (error) {
    if (error instanceof CommandSyntaxError) {
      return { argv: null, error: error.message };
    }
    throw error;
  }
}

/** The spec fields the values stand for (the server judges them; blank ones are left out). */
export function basicSpec(values: IBasicValues): Record<string, unknown> {
  const port = values.port.trim();
  const out: Record<string, unknown> = {
    name: values.name.trim(),
    shell: values.shell,
    port: /^\d+$/.test(port) ? Number(port) : port,
    scale_to_zero: values.scale_to_zero.trim(),
    public: values.public,
    description: values.description
  };
  if (values.command.trim()) {
    out.command = values.shell
      ? values.command
      : (argvOf(values).argv ?? values.command);
  }
  return out;
}

export interface IBasicFieldsProps {
  schema: JSONSchema;
  values: IBasicValues;
  errors: Record<string, string[]>;
  editing: boolean;
  trans: TranslationBundle;
  onChange: (values: IBasicValues) => void;
}

interface IFieldProps {
  field: string;
  schema: JSONSchema;
  errors: Record<string, string[]>;
  children: React.ReactNode;
  after?: React.ReactNode;
  /** A checkbox: the label follows the input. */
  inline?: boolean;
}

/** One field: its schema title, the input, the schema's help, the server's errors. */
function Field(props: IFieldProps): JSX.Element {
  const sub: JSONSchema = props.schema.properties?.[props.field] ?? {};
  const errors = props.errors[props.field] ?? [];
  const id = `root_${props.field}`;
  const label = (
    <label className="control-label" htmlFor={id}>
      {sub.title ?? props.field}
    </label>
  );
  return (
    <div
      className={`form-group jp-svc-Field${errors.length ? ' has-error' : ''}`}
      data-field={props.field}
    >
      {props.inline ? null : label}
      <div className={props.inline ? 'jp-svc-Inline' : undefined}>
        {props.children}
        {props.inline ? label : null}
      </div>
      {props.after}
      {sub.description ? (
        <p className="field-description" id={`${id}__description`}>
          {sub.description}
        </p>
      ) : null}
      {errors.length ? (
        <ul className="validationErrors jp-svc-FieldErrors" id={`${id}__error`}>
          {errors.map((e, i) => (
            <li key={i} className="text-danger">
              {e}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function BasicFields(props: IBasicFieldsProps): JSX.Element {
  const { values, errors, trans, schema } = props;
  const set = (change: Partial<IBasicValues>) =>
    props.onChange({ ...values, ...change });
  const aria = (field: string) => ({
    id: `root_${field}`,
    'aria-invalid': (errors[field]?.length ?? 0) > 0 ? true : undefined,
    'aria-describedby': `root_${field}__description root_${field}__error`
  });
  const { argv, error } = argvOf(values);
  const hint = !values.shell && argv ? shellLooking(argv) : null;
  const preview = values.command.trim() ? (
    <div className="jp-svc-Argv" data-field="argv" aria-live="polite">
      {error ? (
        <span className="jp-svc-ArgvError">
          {trans.__('Cannot read the command: %1', error)}
        </span>
      ) : (
        <>
          <span className="jp-svc-ArgvLabel">{trans.__('Runs')}</span>
          {argv!.map((arg, i) => (
            <code key={i} className="jp-svc-Arg">
              {arg}
            </code>
          ))}
          {hint ? (
            <span className="jp-svc-ArgvHint">
              {trans.__(
                '%1 is passed on as an argument: tick "%2" for shell syntax.',
                hint,
                schema.properties?.shell?.title ?? 'shell'
              )}
            </span>
          ) : null}
        </>
      )}
    </div>
  ) : null;
  return (
    <fieldset className="jp-svc-Basic">
      <Field field="name" schema={schema} errors={errors}>
        <input
          {...aria('name')}
          className="form-control"
          value={values.name}
          readOnly={props.editing}
          autoFocus={!props.editing}
          spellCheck={false}
          placeholder={EXAMPLE_NAME}
          onChange={e => set({ name: e.target.value })}
        />
      </Field>
      <Field field="command" schema={schema} errors={errors} after={preview}>
        <input
          {...aria('command')}
          className="form-control jp-svc-Command"
          value={values.command}
          spellCheck={false}
          placeholder={EXAMPLE_COMMAND}
          onChange={e => set({ command: e.target.value })}
        />
      </Field>
      <Field field="shell" schema={schema} errors={errors} inline={true}>
        <input
          {...aria('shell')}
          type="checkbox"
          checked={values.shell}
          onChange={e => set({ shell: e.target.checked })}
        />
      </Field>
      <div className="jp-svc-Row">
        <Field field="port" schema={schema} errors={errors}>
          <input
            {...aria('port')}
            className="form-control"
            inputMode="numeric"
            value={values.port}
            onChange={e => set({ port: e.target.value })}
          />
        </Field>
        <Field field="scale_to_zero" schema={schema} errors={errors}>
          <input
            {...aria('scale_to_zero')}
            className="form-control"
            value={values.scale_to_zero}
            placeholder={trans.__("the server's default")}
            onChange={e => set({ scale_to_zero: e.target.value })}
          />
        </Field>
      </div>
      <Field field="public" schema={schema} errors={errors} inline={true}>
        <input
          {...aria('public')}
          type="checkbox"
          checked={values.public}
          onChange={e => set({ public: e.target.checked })}
        />
      </Field>
      <Field field="description" schema={schema} errors={errors}>
        <textarea
          {...aria('description')}
          className="form-control"
          rows={2}
          value={values.description}
          onChange={e => set({ description: e.target.value })}
        />
      </Field>
    </fieldset>
  );
}
