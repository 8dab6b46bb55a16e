/** Create / edit a service with a form generated from the API's JSON Schema of ServiceSpec. */

import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { FormComponent, ReactWidget } from '@jupyterlab/ui-components';
import type { IChangeEvent } from '@rjsf/core';
import type { UiSchema } from '@rjsf/utils';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- commands.ts loads this module lazily
import validator from '@rjsf/validator-ajv8';
import * as React from 'react';
import { ApiError, SvcApi } from './api';
import {
  cleanFormData,
  defaultsFor,
  errorsToTree,
  ErrorTree,
  IPreparedSchema,
  JSONSchema,
  prepareSchema
} from './schema';
import type { IFieldError, IServiceSpec, IServiceView } from './types';

/** Fields first in the form (the rest follow in the schema's order). */
const FIELD_ORDER = [
  'name',
  'description',
  'command',
  'shell',
  'cwd',
  'env',
  'port',
  'scale_to_zero',
  'desired_state',
  'restart_policy',
  'icon',
  '*'
];

export interface ISpecFormProps {
  api: SvcApi;
  schema: JSONSchema;
  /** The spec to edit; null creates a new service. */
  initial: IServiceSpec | null;
  trans: TranslationBundle;
  translator: ITranslator;
  onSaved: (view: IServiceView, created: boolean) => void;
  onCancel: () => void;
}

export function uiSchemaFor(schema: JSONSchema, editing: boolean): UiSchema {
  const ui: UiSchema = {
    'ui:order': FIELD_ORDER.filter(
      f => f === '*' || f in (schema.properties ?? {})
    ),
    'ui:submitButtonOptions': { norender: true },
    name: { 'ui:readonly': editing, 'ui:autofocus': !editing }
  };
  return ui;
}

export function SpecForm(props: ISpecFormProps): JSX.Element {
  const { api, trans, translator, initial } = props;
  const prepared: IPreparedSchema = React.useMemo(
    () => prepareSchema(props.schema),
    [props.schema]
  );
  const editing = initial !== null;
  const uiSchema = React.useMemo(
    () => uiSchemaFor(prepared.schema, editing),
    [prepared, editing]
  );
  const [formData, setFormData] = React.useState<Record<string, unknown>>(() =>
    initial ? { ...initial } : defaultsFor(prepared.schema)
  );
  const [errorTree, setErrorTree] = React.useState<ErrorTree | undefined>(
    undefined
  );
  const [problem, setProblem] = React.useState<{
    message: string;
    errors: IFieldError[];
  } | null>(null);
  const [saving, setSaving] = React.useState(false);

  const save = async () => {
    const spec = cleanFormData(
      formData,
      prepared.schema,
      prepared
    ) as IServiceSpec;
    if (!spec.name) {
      const errors = [
        { field: 'name', message: trans.__('a service needs a name') }
      ];
      setErrorTree(errorsToTree(errors, prepared.schema));
      setProblem({ message: trans.__('The service cannot be saved.'), errors });
      return;
    }
    setSaving(true);
    try {
      const view = await api.put(spec);
      setErrorTree(undefined);
      setProblem(null);
      props.onSaved(view, !editing);
    } catch (error) {
      if (error instanceof ApiError) {
        setErrorTree(errorsToTree(error.errors, prepared.schema));
        setProblem({ message: error.message, errors: error.errors });
      } else {
        setErrorTree(undefined);
        setProblem({
          message: (error as Error).message || String(error),
          errors: []
        });
      }
    } finally {
      setSaving(false);
    }
  };

  const buttons = (
    <div className="jp-svc-FormButtons">
      <button
        className="jp-mod-styled jp-mod-reject"
        onClick={props.onCancel}
        disabled={saving}
      >
        {trans.__('Cancel')}
      </button>
      <button
        className="jp-mod-styled jp-mod-accept"
        data-action="save"
        onClick={() => void save()}
        disabled={saving}
      >
        {editing ? trans.__('Save') : trans.__('Create')}
      </button>
    </div>
  );

  return (
    <div className="jp-svc-Form">
      <h2>
        {editing
          ? trans.__('Edit service %1', initial!.name)
          : trans.__('New service')}
      </h2>
      {problem ? (
        <div className="jp-svc-FormProblem" role="alert">
          <strong>{problem.message}</strong>
          {problem.errors.length ? (
            <ul>
              {problem.errors.map((e, i) => (
                <li key={i}>
                  {e.field ? <code>{e.field}</code> : null} {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      <FormComponent
        schema={prepared.schema as any}
        uiSchema={uiSchema as any}
        formData={formData as any}
        validator={validator as any}
        noValidate={true}
        liveValidate={false}
        showErrorList={false}
        extraErrors={errorTree as any}
        formContext={{ defaultFormData: {} }}
        translator={translator}
        onChange={(e: IChangeEvent<any>) => setFormData(e.formData ?? {})}
        compact={true}
      />
      {buttons}
    </div>
  );
}

export class SpecFormWidget extends ReactWidget {
  constructor(private readonly props: ISpecFormProps) {
    super();
    this.addClass('jp-svc-FormWidget');
  }

  /** The service being edited; null while it is a new one (what a restored tab reopens). */
  get serviceName(): string | null {
    return this.props.initial?.name ?? null;
  }

  render(): JSX.Element {
    return <SpecForm {...this.props} />;
  }
}
