/**
 * The left sidebar: every service with its state, details and actions (cards, or compact rows
 * that expand), filtered and grouped, kept live.
 */

import { CommandRegistry } from '@lumino/commands';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  listIcon,
  ReactWidget,
  refreshIcon,
  tableRowsIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';
import { ConnectionMode, ServicesModel } from './model';
import { servicesIcon } from './icons';
import {
  DEFAULT_GROUP_BY,
  GroupBy,
  groupServices,
  IListFilter,
  ListToolbar,
  matchesFilter
} from './listing';
import { ActionButton, ServiceCard, ServiceRow } from './service';
import { CommandIDs } from './tokens';

export const PANEL_ID = 'jupyter-svc:panel';

/** How the panel lists services: a card with details each, or one row each that expands. */
export type PanelView = 'detailed' | 'compact';

export interface IServicesPanelOptions {
  model: ServicesModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  baseUrl: string;
  /** The view it opens with (the defaultView setting). */
  listView?: PanelView;
  /** How it groups services at first (the groupBy setting). */
  groupBy?: GroupBy;
}

export class ServicesPanel extends ReactWidget {
  constructor(private readonly options: IServicesPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-svc-Panel');
    this.title.icon = servicesIcon;
    this.title.caption = options.trans.__('Services');
    this._view = options.listView ?? 'detailed';
    this._groupBy = options.groupBy ?? DEFAULT_GROUP_BY;
    options.model.changed.connect(this.update, this);
    options.model.modeChanged.connect(this.update, this);
  }

  get listView(): PanelView {
    return this._view;
  }

  set listView(view: PanelView) {
    if (view !== this._view) {
      this._view = view;
      this.update();
    }
  }

  /** Called when the user picks another grouping (the plugin saves it in the settings). */
  onGroupBy: ((groupBy: GroupBy) => void) | null = null;

  get groupBy(): GroupBy {
    return this._groupBy;
  }

  set groupBy(groupBy: GroupBy) {
    if (groupBy !== this._groupBy) {
      this._groupBy = groupBy;
      this.update();
    }
  }

  render(): JSX.Element {
    return (
      <ServicesList
        {...this.options}
        listView={this._view}
        onToggleView={() => {
          this.listView = this._view === 'compact' ? 'detailed' : 'compact';
        }}
        groupBy={this._groupBy}
        onGroupBy={groupBy => {
          this.groupBy = groupBy;
          this.onGroupBy?.(groupBy);
        }}
      />
    );
  }

  dispose(): void {
    this.options.model.changed.disconnect(this.update, this);
    this.options.model.modeChanged.disconnect(this.update, this);
    super.dispose();
  }

  private _view: PanelView;
  private _groupBy: GroupBy;
}

interface IServicesListProps extends IServicesPanelOptions {
  listView: PanelView;
  onToggleView: () => void;
  groupBy: GroupBy;
  onGroupBy: (groupBy: GroupBy) => void;
}

/** Re-render every second so that countdowns and "ago" times move. */
function useNow(intervalMs = 1000): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

function modeText(mode: ConnectionMode, trans: TranslationBundle): string {
  switch (mode) {
    case 'live':
      return trans.__('live');
    case 'polling':
      return trans.__('polling');
    case 'offline':
      return trans.__('offline');
    default:
      return trans.__('connecting…');
  }
}

export function ServicesList(props: IServicesListProps): JSX.Element {
  const { model, commands, trans, listView } = props;
  const compact = listView === 'compact';
  const now = useNow();
  const all = model.services;
  const [filter, setFilter] = React.useState<IListFilter>({
    text: '',
    state: null
  });
  const services = all.filter(view => matchesFilter(view, filter));
  const groups = groupServices(services, props.groupBy, trans);
  // expanded rows, by name (a row keeps its state while the list changes around it)
  const [expanded, setExpanded] = React.useState<ReadonlySet<string>>(
    () => new Set()
  );
  const toggle = (name: string) => {
    const next = new Set(expanded);
    if (!next.delete(name)) {
      next.add(name);
    }
    setExpanded(next);
  };
  const item = (view: (typeof services)[number]) =>
    compact ? (
      <ServiceRow
        key={view.name}
        {...props}
        view={view}
        now={now}
        expanded={expanded.has(view.name)}
        onToggle={() => toggle(view.name)}
      />
    ) : (
      <ServiceCard key={view.name} {...props} view={view} now={now} />
    );
  const run = (id: string, args: Record<string, string> = {}) => {
    void commands.execute(id, args);
  };
  return (
    <div className="jp-svc-List" data-view={listView}>
      <div className="jp-svc-Header">
        <h2 className="jp-svc-Title">{trans.__('Services')}</h2>
        <span
          className={`jp-svc-Mode jp-svc-Mode-${model.mode}`}
          title={trans.__('How this list follows the server')}
        >
          {modeText(model.mode, trans)}
        </span>
        <ActionButton
          action="create"
          icon={addIcon}
          title={trans.__('New service')}
          onClick={() => run(CommandIDs.create)}
        />
        <ActionButton
          action="toggle-view"
          icon={compact ? listIcon : tableRowsIcon}
          title={compact ? trans.__('Show details') : trans.__('Compact view')}
          onClick={props.onToggleView}
        />
        <ActionButton
          action="refresh"
          icon={refreshIcon}
          title={trans.__('Refresh the list')}
          onClick={() => run(CommandIDs.refresh)}
        />
      </div>
      {model.error && model.mode === 'offline' ? (
        <div className="jp-svc-Error" role="alert">
          {trans.__('Cannot reach the services API: %1', model.error)}
        </div>
      ) : null}
      {all.length ? (
        <ListToolbar
          services={all}
          filter={filter}
          onFilter={setFilter}
          groupBy={props.groupBy}
          onGroupBy={props.onGroupBy}
          trans={trans}
        />
      ) : null}
      {all.length > 0 && services.length === 0 ? (
        <div className="jp-svc-Empty">
          <p>{trans.__('No service matches the filter.')}</p>
        </div>
      ) : services.length === 0 ? (
        <div className="jp-svc-Empty">
          <p>{trans.__('No services yet.')}</p>
          <button
            className="jp-mod-styled jp-mod-accept"
            onClick={() => run(CommandIDs.create)}
          >
            {trans.__('Create a service')}
          </button>
        </div>
      ) : (
        <div className="jp-svc-Groups">
          {groups.map(group => (
            <section
              key={group.key}
              className="jp-svc-Group"
              data-group={group.key}
              aria-label={group.title || undefined}
            >
              {group.title ? (
                <h3 className="jp-svc-GroupTitle">
                  <span className="jp-svc-GroupName">{group.title}</span>
                  <span className="jp-svc-GroupCount">
                    {group.views.length}
                  </span>
                </h3>
              ) : null}
              <ul className="jp-svc-Services">{group.views.map(item)}</ul>
            </section>
          ))}
        </div>
      )}
    </div>
  );
}
