/**
 * What the list shows of many services: a filter box (name, description, labels), and the
 * count in each state, which also filters by that state.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { stateLabel, stateTone } from './format';
import { SERVICE_STATES, type IServiceView, type ServiceState } from './types';

export interface IListFilter {
  text: string;
  state: ServiceState | null;
}

/** Whether `view` is shown: its state, and every word of the text in its name, description or labels. */
export function matchesFilter(
  view: IServiceView,
  filter: IListFilter
): boolean {
  if (filter.state && view.status.state !== filter.state) {
    return false;
  }
  const haystack = [
    view.name,
    view.spec.description ?? '',
    ...Object.entries(view.spec.labels ?? {}).map(([k, v]) => `${k}=${v}`)
  ]
    .join('\n')
    .toLowerCase();
  return filter.text
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every(word => haystack.includes(word));
}

/** How many services are in each state, in the server's order of states. */
export function countByState(views: IServiceView[]): [ServiceState, number][] {
  const counts = new Map<ServiceState, number>();
  for (const view of views) {
    counts.set(view.status.state, (counts.get(view.status.state) ?? 0) + 1);
  }
  return SERVICE_STATES.filter(s => counts.has(s)).map(s => [
    s,
    counts.get(s)!
  ]);
}

export interface IListToolbarProps {
  services: IServiceView[];
  filter: IListFilter;
  onFilter: (filter: IListFilter) => void;
  trans: TranslationBundle;
}

export function ListToolbar(props: IListToolbarProps): JSX.Element {
  const { filter, trans } = props;
  return (
    <div className="jp-svc-ListToolbar">
      <input
        className="jp-svc-Filter jp-mod-styled"
        type="search"
        value={filter.text}
        placeholder={trans.__('Filter by name, description or label')}
        aria-label={trans.__('Filter services')}
        onChange={e => props.onFilter({ ...filter, text: e.target.value })}
      />
      <div
        className="jp-svc-Counts"
        role="group"
        aria-label={trans.__('Services by state')}
      >
        <span className="jp-svc-Total">
          {trans._n('%1 service', '%1 services', props.services.length)}
        </span>
        {countByState(props.services).map(([state, count]) => (
          <button
            key={state}
            className="jp-svc-Count"
            data-state={state}
            aria-pressed={filter.state === state}
            title={trans.__('Show only the services in this state')}
            onClick={() =>
              props.onFilter({
                ...filter,
                state: filter.state === state ? null : state
              })
            }
          >
            <span className={`jp-svc-Dot jp-svc-tone-${stateTone(state)}`} />
            {count} {stateLabel(state, trans)}
          </button>
        ))}
      </div>
    </div>
  );
}
