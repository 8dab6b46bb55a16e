/** The left sidebar: every service with its state, details (or not: compact) and actions, kept live. */

import { CommandRegistry } from '@lumino/commands';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  deleteIcon,
  editIcon,
  LabIcon,
  launchIcon,
  listIcon,
  ReactWidget,
  refreshIcon,
  runIcon,
  stopIcon,
  tableRowsIcon,
  textEditorIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';
import { ConnectionMode, ServicesModel } from './model';
import {
  availableActions,
  formatAgo,
  formatIdleWindow,
  formatScalesDown,
  serviceUrl,
  stateLabel,
  stateTone
} from './format';
import { iconForUrl, servicesIcon } from './icons';
import { IListFilter, ListToolbar, matchesFilter } from './listing';
import { CommandIDs } from './tokens';
import type { IServiceView } from './types';

export const PANEL_ID = 'jupyter-svc:panel';

/** How the panel lists services: a card with details each, or just names, states and actions. */
export type PanelView = 'detailed' | 'compact';

export interface IServicesPanelOptions {
  model: ServicesModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  baseUrl: string;
  /** The view it opens with (the defaultView setting). */
  listView?: PanelView;
}

export class ServicesPanel extends ReactWidget {
  constructor(private readonly options: IServicesPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-svc-Panel');
    this.title.icon = servicesIcon;
    this.title.caption = options.trans.__('Services');
    this._view = options.listView ?? 'detailed';
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

  render(): JSX.Element {
    return (
      <ServicesList
        {...this.options}
        listView={this._view}
        onToggleView={() => {
          this.listView = this._view === 'compact' ? 'detailed' : 'compact';
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
}

interface IServicesListProps extends IServicesPanelOptions {
  listView: PanelView;
  onToggleView: () => void;
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
        <ul className="jp-svc-Services">
          {services.map(view => (
            <ServiceCard
              key={view.name}
              {...props}
              view={view}
              now={now}
              compact={compact}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

interface IActionButtonProps {
  action: string;
  icon: LabIcon;
  title: string;
  onClick: () => void;
  disabled?: boolean;
}

function ActionButton(props: IActionButtonProps): JSX.Element {
  return (
    <button
      className="jp-svc-Action jp-Button jp-mod-minimal"
      data-action={props.action}
      title={props.title}
      aria-label={props.title}
      disabled={props.disabled}
      onClick={event => {
        event.stopPropagation();
        props.onClick();
      }}
    >
      <props.icon.react tag="span" className="jp-svc-ActionIcon" />
    </button>
  );
}

interface IServiceCardProps extends IServicesPanelOptions {
  view: IServiceView;
  now: number;
  /** Name, state, message and actions only. */
  compact: boolean;
}

function ServiceCard(props: IServiceCardProps): JSX.Element {
  const { view, now, trans, commands, baseUrl, compact } = props;
  const { spec, status } = view;
  const url = serviceUrl(view, baseUrl);
  const can = availableActions(view);
  const run = (id: string) => {
    void commands.execute(id, { name: view.name });
  };
  const Icon = iconForUrl(spec.icon);
  const showMessage = !!status.message && status.state !== 'ready';
  return (
    <li
      className="jp-svc-Service"
      data-service={view.name}
      data-state={status.state}
    >
      <div className="jp-svc-ServiceHeader">
        <Icon.react tag="span" className="jp-svc-ServiceIcon" />
        <span className="jp-svc-Name" title={spec.description || view.name}>
          {view.name}
        </span>
        <span
          className={`jp-svc-Badge jp-svc-tone-${stateTone(status.state)}`}
          data-state={status.state}
          title={status.message || stateLabel(status.state, trans)}
        >
          {stateLabel(status.state, trans)}
        </span>
      </div>
      {spec.description && !compact ? (
        <div className="jp-svc-Description">{spec.description}</div>
      ) : null}
      {compact ? null : (
        <a
          className="jp-svc-Url"
          href={url}
          target="_blank"
          rel="noopener noreferrer"
        >
          {url}
        </a>
      )}
      {showMessage ? (
        <div className="jp-svc-Message">{status.message}</div>
      ) : null}
      {compact ? null : (
        <dl className="jp-svc-Details">
          <dt>{trans.__('Backend')}</dt>
          <dd data-field="backend">{status.backend || spec.backend || '—'}</dd>
          <dt>{trans.__('Restarts')}</dt>
          <dd data-field="restarts">{status.restarts}</dd>
          <dt>{trans.__('Idle window')}</dt>
          <dd data-field="idle-window">
            {formatIdleWindow(spec.scale_to_zero, trans)}
          </dd>
          <dt>{trans.__('Scales down')}</dt>
          <dd data-field="idle-deadline">
            {formatScalesDown(view, now, trans)}
          </dd>
          <dt>{trans.__('Last activity')}</dt>
          <dd data-field="last-activity">
            {formatAgo(status.last_activity, now, trans)}
          </dd>
        </dl>
      )}
      <div className="jp-svc-Actions">
        <ActionButton
          action="open"
          icon={launchIcon}
          title={trans.__('Open in a new tab')}
          onClick={() => run(CommandIDs.open)}
        />
        {can.wake ? (
          <ActionButton
            action="wake"
            icon={runIcon}
            title={trans.__('Wake')}
            onClick={() => run(CommandIDs.wake)}
          />
        ) : null}
        {can.stop ? (
          <ActionButton
            action="stop"
            icon={stopIcon}
            title={trans.__('Stop (scale to zero)')}
            onClick={() => run(CommandIDs.stop)}
          />
        ) : null}
        <ActionButton
          action="restart"
          icon={refreshIcon}
          title={trans.__('Restart')}
          disabled={!can.restart}
          onClick={() => run(CommandIDs.restart)}
        />
        <ActionButton
          action="logs"
          icon={textEditorIcon}
          title={trans.__('Logs')}
          onClick={() => run(CommandIDs.logs)}
        />
        <ActionButton
          action="edit"
          icon={editIcon}
          title={trans.__('Edit')}
          onClick={() => run(CommandIDs.edit)}
        />
        {can.enable ? (
          <button
            className="jp-svc-Toggle jp-mod-styled"
            data-action="enable"
            onClick={() => run(CommandIDs.enable)}
          >
            {trans.__('Enable')}
          </button>
        ) : (
          <button
            className="jp-svc-Toggle jp-mod-styled"
            data-action="disable"
            onClick={() => run(CommandIDs.disable)}
          >
            {trans.__('Disable')}
          </button>
        )}
        <ActionButton
          action="delete"
          icon={deleteIcon}
          title={trans.__('Delete')}
          onClick={() => run(CommandIDs.remove)}
        />
      </div>
    </li>
  );
}
