/**
 * The new-service form's template picker: the server's templates (GET svc/api/templates), the
 * chosen one's parameters, and the spec it makes of them (GET templates/<name>/spec), which
 * fills the form: the command, and the fields the template sets (cwd, readiness, labels, ...).
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { ApiError, SvcApi } from './api';
import { templateIcon } from './icons';

export interface ITemplateParam {
  name: string;
  help: string;
  default: unknown;
  required: boolean;
  /** "str", "path", "dir", "int", "bool", "argv" */
  kind: string;
}

export interface ITemplateInfo {
  name: string;
  description: string;
  framework: string | null;
  /** Whether its framework can be imported where the server runs. */
  available: boolean;
  example: string;
  params: ITemplateParam[];
}

/** The parameters' starting values: their defaults, as text. */
export function defaultValues(template: ITemplateInfo): Record<string, string> {
  return Object.fromEntries(
    template.params.map(p => [
      p.name,
      p.default === null || p.default === undefined
        ? ''
        : Array.isArray(p.default)
          ? p.default.join(' ')
          : String(p.default)
    ])
  );
}

/** Errors the server named `params.<name>`, by parameter (others under ""). */
export function paramErrors(error: ApiError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of error.errors) {
    const key = e.field.startsWith('params.') ? e.field.slice(7) : '';
    out[key] = [...(out[key] ?? []), e.message];
  }
  if (!error.errors.length) {
    out[''] = [error.message];
  }
  return out;
}

export interface ITemplatePickerProps {
  templates: ITemplateInfo[];
  api: SvcApi;
  trans: TranslationBundle;
  /** The spec the template made (without a name), or null when "no template" is chosen. */
  onApply: (spec: Record<string, unknown> | null, template: string) => void;
  /** Milliseconds of quiet typing before the spec is asked for. */
  delay?: number;
}

export function TemplatePicker(props: ITemplatePickerProps): JSX.Element {
  const { templates, api, trans, onApply } = props;
  const [chosen, setChosen] = React.useState('');
  const [values, setValues] = React.useState<Record<string, string>>({});
  const [errors, setErrors] = React.useState<Record<string, string[]>>({});
  const template = templates.find(t => t.name === chosen) ?? null;

  // ask for the spec once every required parameter has a value, after a pause in typing
  React.useEffect(() => {
    if (!template) {
      return;
    }
    const missing = template.params.some(
      p => p.required && !(values[p.name] ?? '').trim()
    );
    if (missing) {
      setErrors({});
      return;
    }
    let current = true;
    const timer = window.setTimeout(() => {
      const query = Object.fromEntries(
        Object.entries(values).filter(([, v]) => v.trim())
      );
      api.templateSpec(template.name, query).then(
        spec => {
          if (current) {
            setErrors({});
            onApply(spec, template.name);
          }
        },
        error => {
          if (current) {
            setErrors(
              error instanceof ApiError
                ? paramErrors(error)
                : { '': [String(error)] }
            );
          }
        }
      );
    }, props.delay ?? 300);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [template, values]);

  const choose = (name: string) => {
    const next = templates.find(t => t.name === name) ?? null;
    setChosen(name);
    setValues(next ? defaultValues(next) : {});
    setErrors({});
    if (!next) {
      onApply(null, '');
    }
  };

  const Icon = template ? templateIcon(template.name) : null;
  return (
    <fieldset className="jp-svc-Templates" data-template={chosen}>
      <div className="form-group jp-svc-Field">
        <label className="control-label" htmlFor="root_template">
          {trans.__('Start from a template')}
        </label>
        <div className="jp-svc-TemplateChoice">
          {Icon ? (
            <Icon.react tag="span" className="jp-svc-TemplateIcon" />
          ) : null}
          <select
            id="root_template"
            className="form-control"
            value={chosen}
            onChange={e => choose(e.target.value)}
          >
            <option value="">{trans.__('none: I give the command')}</option>
            {templates.map(t => (
              <option key={t.name} value={t.name}>
                {t.available
                  ? trans.__('%1: %2', t.name, t.description)
                  : trans.__(
                      '%1: %2 (%3 is not installed)',
                      t.name,
                      t.description,
                      t.framework ?? ''
                    )}
              </option>
            ))}
          </select>
        </div>
        <p className="field-description">
          {template
            ? template.example
              ? trans.__('In a notebook: %1', template.example)
              : template.description
            : trans.__(
                'A template fills in the command and the settings its framework needs to run behind JupyterLab.'
              )}
        </p>
      </div>
      {template
        ? template.params.map(p => {
            const id = `root_template_${p.name}`;
            const problems = errors[p.name] ?? [];
            const set = (value: string) =>
              setValues({ ...values, [p.name]: value });
            return (
              <div
                key={`${template.name}.${p.name}`}
                className={`form-group jp-svc-Field${problems.length ? ' has-error' : ''}`}
                data-param={p.name}
              >
                {p.kind === 'bool' ? (
                  <div className="jp-svc-Inline">
                    <input
                      id={id}
                      type="checkbox"
                      checked={['1', 'true', 'yes', 'on'].includes(
                        (values[p.name] ?? '').toLowerCase()
                      )}
                      onChange={e => set(e.target.checked ? 'true' : 'false')}
                    />
                    <label className="control-label" htmlFor={id}>
                      {p.name}
                    </label>
                  </div>
                ) : (
                  <>
                    <label className="control-label" htmlFor={id}>
                      {p.required ? `${p.name}*` : p.name}
                    </label>
                    <input
                      id={id}
                      className="form-control"
                      value={values[p.name] ?? ''}
                      spellCheck={false}
                      aria-invalid={problems.length > 0}
                      onChange={e => set(e.target.value)}
                    />
                  </>
                )}
                <p className="field-description">
                  {p.kind === 'path' || p.kind === 'dir'
                    ? trans.__("%1 (from the server's root folder)", p.help)
                    : p.help}
                </p>
                {problems.length ? (
                  <ul className="validationErrors jp-svc-FieldErrors">
                    {problems.map((m, i) => (
                      <li key={i} className="text-danger">
                        {m}
                      </li>
                    ))}
                  </ul>
                ) : null}
              </div>
            );
          })
        : null}
      {errors[''] ? (
        <ul className="validationErrors jp-svc-FieldErrors">
          {errors[''].map((m, i) => (
            <li key={i} className="text-danger">
              {m}
            </li>
          ))}
        </ul>
      ) : null}
    </fieldset>
  );
}
