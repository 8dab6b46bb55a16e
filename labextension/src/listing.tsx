/**
 * What the list shows of many services: a filter box (name, description, labels), the count
 * in each state (which also filters by that state), and groups by state or by a label.
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

/** How the list is grouped: not at all, by state, or by the value of one label. */
export type GroupBy = 'none' | 'state' | `label:${string}`;

export const DEFAULT_GROUP_BY: GroupBy = 'state';

/** A settings or stored value read as a GroupBy (anything else: the default). */
export function asGroupBy(value: unknown): GroupBy {
  if (value === 'none' || value === 'state') {
    return value;
  }
  if (typeof value === 'string' && /^label:.+/.test(value)) {
    return value as GroupBy;
  }
  return DEFAULT_GROUP_BY;
}

/** One group of the list: a key for React and tests, its title, its services in list order. */
export interface IServiceGroup {
  key: string;
  title: string;
  views: IServiceView[];
}

/** Failed services first (they need someone), then the server's order of states. */
const GROUP_STATE_ORDER: ServiceState[] = [
  'failed',
  ...SERVICE_STATES.filter(s => s !== 'failed')
];

const NATURAL = new Intl.Collator(undefined, { numeric: true });

/** Every label key any service has, in natural order (what the group selector offers). */
export function labelKeys(views: IServiceView[]): string[] {
  const keys = new Set<string>();
  for (const view of views) {
    Object.keys(view.spec.labels ?? {}).forEach(k => keys.add(k));
  }
  return [...keys].sort(NATURAL.compare);
}

/**
 * Split `views` (already in list order) into groups. By state: failed first, empty states left
 * out. By label: its values in natural order, services without the label last.
 */
export function groupServices(
  views: IServiceView[],
  groupBy: GroupBy,
  trans: TranslationBundle
): IServiceGroup[] {
  if (groupBy === 'none') {
    return [{ key: 'all', title: '', views }];
  }
  if (groupBy === 'state') {
    return GROUP_STATE_ORDER.map(state => ({
      key: `state:${state}`,
      title: stateLabel(state, trans),
      views: views.filter(v => v.status.state === state)
    })).filter(g => g.views.length > 0);
  }
  const label = groupBy.slice('label:'.length);
  const byValue = new Map<string, IServiceView[]>();
  const without: IServiceView[] = [];
  for (const view of views) {
    const value = view.spec.labels?.[label];
    if (value === undefined) {
      without.push(view);
    } else {
      byValue.set(value, [...(byValue.get(value) ?? []), view]);
    }
  }
  const groups = [...byValue.keys()].sort(NATURAL.compare).map(value => ({
    key: `label:${label}=${value}`,
    title: `${label}=${value}`,
    views: byValue.get(value)!
  }));
  if (without.length) {
    groups.push({
      key: `label:${label}!`,
      title: trans.__('no %1 label', label),
      views: without
    });
  }
  return groups;
}

export interface IListToolbarProps {
  services: IServiceView[];
  filter: IListFilter;
  onFilter: (filter: IListFilter) => void;
  groupBy: GroupBy;
  onGroupBy: (groupBy: GroupBy) => void;
  trans: TranslationBundle;
}

/** The "Group by" selector: none, state, or any label key a service has (and the current one). */
function GroupSelect(props: IListToolbarProps): JSX.Element {
  const { trans, groupBy } = props;
  const keys = labelKeys(props.services);
  const current = groupBy.startsWith('label:')
    ? groupBy.slice('label:'.length)
    : null;
  if (current !== null && !keys.includes(current)) {
    keys.push(current);
  }
  return (
    <select
      className="jp-svc-GroupBy jp-mod-styled"
      value={groupBy}
      title={trans.__('Group services by')}
      aria-label={trans.__('Group services by')}
      onChange={e => props.onGroupBy(asGroupBy(e.target.value))}
    >
      <option value="none">{trans.__('No groups')}</option>
      <option value="state">{trans.__('Group by state')}</option>
      {keys.map(key => (
        <option key={key} value={`label:${key}`}>
          {trans.__('Group by %1', key)}
        </option>
      ))}
    </select>
  );
}

export function ListToolbar(props: IListToolbarProps): JSX.Element {
  const { filter, trans } = props;
  return (
    <div className="jp-svc-ListToolbar">
      <div className="jp-svc-FilterRow">
        <input
          className="jp-svc-Filter jp-mod-styled"
          type="search"
          value={filter.text}
          placeholder={trans.__('Filter')}
          title={trans.__('Filter by name, description or label')}
          aria-label={trans.__('Filter services')}
          onChange={e => props.onFilter({ ...filter, text: e.target.value })}
        />
        <GroupSelect {...props} />
      </div>
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
