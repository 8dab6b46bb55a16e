/**
 * Create / edit a service: a short basic form (basic.tsx) and an "Advanced" part generated from
 * the API's JSON Schema of ServiceSpec, without the fields the chosen backend cannot honour.
 * It sends exactly what the user changed (POST for a new service, a JSON merge patch for an
 * edit), so everything else keeps the server's defaults. Errors land next to their fields; the
 * first one scrolls into view and takes focus.
 */

import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { FormComponent, ReactWidget } from '@jupyterlab/ui-components';
import type { IChangeEvent } from '@rjsf/core';
import { getDefaultFormState, type UiSchema } from '@rjsf/utils';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- commands.ts loads this module lazily
import validator from '@rjsf/validator-ajv8';
import * as React from 'react';
import { ApiError, SvcApi } from './api';
import {
  argvOf,
  BASIC_FIELDS,
  BasicFields,
  basicFrom,
  basicSpec,
  IBasicValues
} from './basic';
import { joinArgv } from './argv';
import { isPlainObject, mergePatch, withoutNulls } from './changes';
import { ITemplateInfo, TemplatePicker } from './picker';
import {
  cleanFormData,
  errorsToTree,
  ErrorTree,
  IPreparedSchema,
  JSONSchema,
  parseFieldPath,
  prepareSchema
} from './schema';
import { IBackends, schemaForBackend } from './support';
import type { IFieldError, IServiceSpec, IServiceView } from './types';

export interface ISpecFormProps {
  api: SvcApi;
  schema: JSONSchema;
  /** What GET svc/api/backends answered; null: unknown, every field is shown. */
  backends?: IBackends | null;
  /** The spec to edit; null creates a new service. */
  initial: IServiceSpec | null;
  /** The server's templates (a new service may start from one); null: none offered. */
  templates?: ITemplateInfo[] | null;
  trans: TranslationBundle;
  translator: ITranslator;
  onSaved: (view: IServiceView, created: boolean) => void;
  onCancel: () => void;
}

const BASIC = new Set<string>(BASIC_FIELDS);

/** The schema of the advanced part: the prepared one without the basic fields. */
export function advancedSchema(prepared: JSONSchema): JSONSchema {
  const properties = Object.fromEntries(
    Object.entries((prepared.properties ?? {}) as JSONSchema).filter(
      ([name]) => !BASIC.has(name)
    )
  );
  const required = (prepared.required ?? []).filter(
    (name: string) => !BASIC.has(name)
  );
  const { title: _title, description: _description, ...rest } = prepared;
  void _title;
  void _description;
  return { ...rest, properties, required };
}

export function uiSchemaFor(): UiSchema {
  return { 'ui:submitButtonOptions': { norender: true } };
}

/** The advanced fields of a spec (an edit starts from them). */
function advancedOf(spec: IServiceSpec | null): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(spec ?? {}).filter(([name]) => !BASIC.has(name))
  );
}

/** Field errors split between the basic fields and the advanced part's error tree. */
function placeErrors(
  errors: IFieldError[],
  schema: JSONSchema
): { basic: Record<string, string[]>; tree: ErrorTree; advanced: boolean } {
  const basic: Record<string, string[]> = {};
  const rest: IFieldError[] = [];
  for (const error of errors) {
    const [head, ...tail] = parseFieldPath(error.field || '');
    if (typeof head === 'string' && BASIC.has(head)) {
      const where = tail.length ? `${tail.join('.')}: ` : '';
      basic[head] = [...(basic[head] ?? []), where + error.message];
    } else {
      rest.push(error);
    }
  }
  const tree = errorsToTree(rest, schema);
  const advanced = Object.keys(tree).some(key => key !== '__errors');
  return { basic, tree, advanced };
}

/** The input of the first field with an error: a basic one, else one in the advanced part. */
function firstErrorField(root: HTMLElement): HTMLElement | null {
  return (
    root.querySelector<HTMLElement>('.jp-svc-Basic [aria-invalid="true"]') ??
    root
      .querySelector('.jp-svc-Advanced .validationErrors li')
      ?.closest('.form-group')
      ?.querySelector<HTMLElement>('input, select, textarea') ??
    null
  );
}

/** Bring the first error into view and give it the focus: a field's input, else the summary. */
export function focusFirstError(root: HTMLElement): HTMLElement | null {
  const target =
    firstErrorField(root) ??
    root.querySelector<HTMLElement>('.jp-svc-FormProblem');
  if (target) {
    if (!target.matches('input, select, textarea, [tabindex]')) {
      target.setAttribute('tabindex', '-1'); // the summary box: focusable by script only
    }
    target.scrollIntoView?.({ block: 'center' });
    target.focus({ preventScroll: true });
  }
  return target;
}

export function SpecForm(props: ISpecFormProps): JSX.Element {
  const { api, trans, translator, initial } = props;
  const editing = initial !== null;
  const prepared: IPreparedSchema = React.useMemo(
    () => prepareSchema(props.schema),
    [props.schema]
  );
  const fullAdvanced = React.useMemo(
    () => advancedSchema(prepared.schema),
    [prepared]
  );
  const startBasic = React.useMemo(() => basicFrom(initial), [initial]);
  const startAdvanced = React.useMemo(() => advancedOf(initial), [initial]);
  const [basic, setBasic] = React.useState<IBasicValues>(startBasic);
  const [advanced, setAdvanced] =
    React.useState<Record<string, unknown>>(startAdvanced);
  const backend = (advanced.backend as string | undefined) ?? null;
  const shownAdvanced = React.useMemo(
    () =>
      schemaForBackend(
        fullAdvanced,
        props.backends ?? null,
        backend,
        startAdvanced,
        name => trans.__('Not supported by the %1 backend.', name)
      ),
    [fullAdvanced, props.backends, backend, startAdvanced, trans]
  );
  // what the advanced part shows before any change: the spec, with the defaults rjsf fills in
  const baseline = React.useMemo(
    () =>
      getDefaultFormState(
        validator as any,
        shownAdvanced as any,
        startAdvanced,
        shownAdvanced as any
      ),
    [shownAdvanced, startAdvanced]
  );
  const [basicErrors, setBasicErrors] = React.useState<
    Record<string, string[]>
  >({});
  const [errorTree, setErrorTree] = React.useState<ErrorTree | undefined>();
  const [problem, setProblem] = React.useState<{
    message: string;
    errors: IFieldError[];
  } | null>(null);
  const [open, setOpen] = React.useState(false);
  // the advanced fields the last template set (another template's choice takes them back)
  const fromTemplate = React.useRef<string[]>([]);
  const applyTemplate = (spec: Record<string, unknown> | null) => {
    const { command, shell, description } = spec ?? {};
    if (spec) {
      setBasic(b => ({
        ...b,
        command:
          typeof command === 'string'
            ? command
            : Array.isArray(command)
              ? joinArgv(command as string[])
              : b.command,
        shell: typeof command === 'string' || shell === true,
        description: b.description || String(description ?? '')
      }));
    }
    const set = advancedOf(spec as IServiceSpec | null);
    const previous = fromTemplate.current;
    setAdvanced(a => {
      const next = { ...a };
      previous.forEach(k => delete next[k]);
      return { ...next, ...set };
    });
    fromTemplate.current = Object.keys(set);
  };
  const [saving, setSaving] = React.useState(false);
  const [shown, setShown] = React.useState(0); // bumped when new errors are shown
  const root = React.useRef<HTMLDivElement>(null);
  const fieldErrorsShown = React.useRef(false); // the last errors name a field of the form

  React.useEffect(() => {
    if (!shown || !root.current) {
      return;
    }
    // rjsf shows extra errors an update or two later: wait for a field's error a moment
    let tries = 0;
    const look = () => {
      const node = root.current;
      if (!node) {
        return;
      }
      if (firstErrorField(node) || !fieldErrorsShown.current || tries++ > 30) {
        focusFirstError(node);
      } else {
        timer = window.setTimeout(look, 30);
      }
    };
    let timer = window.setTimeout(look, 0);
    return () => window.clearTimeout(timer);
  }, [shown]);

  const showErrors = (message: string, errors: IFieldError[]) => {
    const placed = placeErrors(errors, shownAdvanced);
    setBasicErrors(placed.basic);
    setErrorTree(placed.tree);
    setProblem({ message, errors });
    if (placed.advanced) {
      setOpen(true);
    }
    fieldErrorsShown.current =
      placed.advanced || Object.keys(placed.basic).length > 0;
    setShown(n => n + 1);
  };

  /** The changes to send: basic and advanced fields that differ from what the form started with. */
  const changes = (): Record<string, unknown> => {
    const basicPatch = mergePatch(basicSpec(startBasic), basicSpec(basic));
    const cleaned = cleanFormData(advanced, fullAdvanced, prepared);
    const advancedPatch = mergePatch(baseline, cleaned);
    return {
      ...(isPlainObject(advancedPatch) ? advancedPatch : {}),
      ...(isPlainObject(basicPatch) ? basicPatch : {})
    };
  };

  const save = async () => {
    const name = basic.name.trim();
    const local: IFieldError[] = [];
    if (!name) {
      local.push({
        field: 'name',
        message: trans.__('a service needs a name')
      });
    }
    const { error } = argvOf(basic);
    if (error) {
      local.push({ field: 'command', message: error });
    }
    if (local.length) {
      showErrors(trans.__('The service cannot be saved.'), local);
      return;
    }
    setSaving(true);
    try {
      const patch = changes();
      let view: IServiceView;
      if (!editing) {
        view = await api.create({
          ...(withoutNulls(patch) as object),
          name
        } as IServiceSpec);
      } else if (Object.keys(patch).length) {
        view = await api.patch(name, patch);
      } else {
        // nothing changed: Save on a failed service means "run it again"
        view = await api.get(name);
        if (view.status.state === 'failed') {
          view = await api.action(name, 'restart');
        }
      }
      setBasicErrors({});
      setErrorTree(undefined);
      setProblem(null);
      props.onSaved(view, !editing);
    } catch (error) {
      if (error instanceof ApiError) {
        showErrors(error.message, error.errors);
      } else {
        showErrors((error as Error).message || String(error), []);
      }
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="jp-svc-Form" ref={root}>
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
      {!editing && props.templates?.length ? (
        <TemplatePicker
          templates={props.templates}
          api={api}
          trans={trans}
          onApply={applyTemplate}
        />
      ) : null}
      <BasicFields
        schema={prepared.schema}
        values={basic}
        errors={basicErrors}
        editing={editing}
        trans={trans}
        onChange={setBasic}
      />
      <details
        className="jp-svc-Advanced"
        open={open}
        onToggle={e => setOpen((e.target as HTMLDetailsElement).open)}
      >
        <summary>{trans.__('Advanced')}</summary>
        <FormComponent
          schema={shownAdvanced as any}
          uiSchema={uiSchemaFor() as any}
          formData={advanced as any}
          validator={validator as any}
          noValidate={true}
          liveValidate={false}
          showErrorList={false}
          extraErrors={errorTree as any}
          formContext={{ defaultFormData: {} }}
          translator={translator}
          onChange={(e: IChangeEvent<any>) => setAdvanced(e.formData ?? {})}
          compact={true}
        />
      </details>
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
