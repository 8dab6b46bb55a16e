/**
 * One service in the list: a card with its details (the detailed view), or a one-line row like
 * JupyterLab's Running Sessions whose details and actions open on expand (the compact view).
 */

import { CommandRegistry } from '@lumino/commands';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownIcon,
  caretRightIcon,
  deleteIcon,
  editIcon,
  LabIcon,
  launchIcon,
  refreshIcon,
  runIcon,
  stopIcon,
  textEditorIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';
import {
  availableActions,
  formatAgo,
  formatIdleWindow,
  formatLifetime,
  formatScalesDown,
  serviceUrl,
  shortInfo,
  stateLabel,
  stateTone
} from './format';
import { iconForUrl } from './icons';
import { CommandIDs } from './tokens';
import type { IServiceView } from './types';

export interface IServiceItemProps {
  view: IServiceView;
  now: number;
  commands: CommandRegistry;
  trans: TranslationBundle;
  baseUrl: string;
}

interface IActionButtonProps {
  action: string;
  icon: LabIcon;
  title: string;
  onClick: () => void;
  disabled?: boolean;
}

export function ActionButton(props: IActionButtonProps): JSX.Element {
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

/** Messages longer than this (or of more lines) show clipped, with "more". */
const LONG_MESSAGE = 160;
const LONG_LINES = 3;

/**
 * A status message, never cut off for good: a long one shows its start and a "more" button
 * that shows all of it (`full`: all of it at once, as in an expanded row).
 */
export function MessageBox(props: {
  message: string;
  trans: TranslationBundle;
  full?: boolean;
}): JSX.Element {
  const { message, trans } = props;
  const [open, setOpen] = React.useState(false);
  const long =
    message.length > LONG_MESSAGE || message.split('\n').length > LONG_LINES;
  const clipped = long && !open && !props.full;
  return (
    <div className="jp-svc-MessageBox">
      <div className="jp-svc-Message" data-clipped={clipped}>
        {message}
      </div>
      {long && !props.full ? (
        <button
          className="jp-svc-More jp-mod-minimal jp-Button"
          data-action="more"
          aria-expanded={open}
          onClick={event => {
            event.stopPropagation();
            setOpen(!open);
          }}
        >
          {open ? trans.__('less') : trans.__('more')}
        </button>
      ) : null}
    </div>
  );
}

/** Every action on a service that its state allows (Open too, unless the row has it). */
export function ServiceActions(
  props: IServiceItemProps & { withOpen?: boolean }
): JSX.Element {
  const { view, trans, commands } = props;
  const can = availableActions(view);
  const run = (id: string) => {
    void commands.execute(id, { name: view.name });
  };
  return (
    <div className="jp-svc-Actions">
      {props.withOpen === false ? null : (
        <ActionButton
          action="open"
          icon={launchIcon}
          title={trans.__('Open')}
          onClick={() => run(CommandIDs.open)}
        />
      )}
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
  );
}

function StateBadge(props: IServiceItemProps): JSX.Element {
  const { status } = props.view;
  const label = stateLabel(status.state, props.trans);
  return (
    <span
      className={`jp-svc-Badge jp-svc-tone-${stateTone(status.state)}`}
      data-state={status.state}
      title={status.message || label}
    >
      {label}
    </span>
  );
}

/** URL, backend, restarts, idle window, countdown, last activity, and what ends or holds it. */
function Details(props: IServiceItemProps): JSX.Element {
  const { view, now, trans, baseUrl } = props;
  const { spec, status } = view;
  const url = serviceUrl(view, baseUrl);
  const lifetime = formatLifetime(view, now, trans);
  return (
    <>
      <a
        className="jp-svc-Url"
        href={url}
        target="_blank"
        rel="noopener noreferrer"
      >
        {url}
      </a>
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
        <dd data-field="idle-deadline">{formatScalesDown(view, now, trans)}</dd>
        <dt>{trans.__('Last activity')}</dt>
        <dd data-field="last-activity">
          {formatAgo(status.last_activity, now, trans)}
        </dd>
        {lifetime.kernel ? (
          <>
            <dt>{trans.__('Lives')}</dt>
            <dd data-field="kernel">{lifetime.kernel}</dd>
          </>
        ) : null}
        {lifetime.keepWarm ? (
          <>
            <dt>{trans.__('Keep warm')}</dt>
            <dd data-field="keep-warm">{lifetime.keepWarm}</dd>
          </>
        ) : null}
        {lifetime.expires ? (
          <>
            <dt>{trans.__('Expires')}</dt>
            <dd data-field="expires">{lifetime.expires}</dd>
          </>
        ) : null}
      </dl>
    </>
  );
}

/** The detailed view's card: everything at once. */
export function ServiceCard(props: IServiceItemProps): JSX.Element {
  const { view, trans } = props;
  const { spec, status } = view;
  const Icon = iconForUrl(spec.icon);
  return (
    <li
      className="jp-svc-Service jp-svc-Card"
      data-service={view.name}
      data-state={status.state}
    >
      <div className="jp-svc-ServiceHeader">
        <Icon.react tag="span" className="jp-svc-ServiceIcon" />
        <span className="jp-svc-Name" title={spec.description || view.name}>
          {view.name}
        </span>
        <StateBadge {...props} />
      </div>
      {spec.description ? (
        <div className="jp-svc-Description">{spec.description}</div>
      ) : null}
      {status.message && status.state !== 'ready' ? (
        <MessageBox message={status.message} trans={trans} />
      ) : null}
      <Details {...props} />
      <ServiceActions {...props} />
    </li>
  );
}

export interface IServiceRowProps extends IServiceItemProps {
  expanded: boolean;
  onToggle: () => void;
}

/** Up / Down move between rows, Right / Left open and close one (as in a tree). */
function onRowKey(
  event: React.KeyboardEvent<HTMLElement>,
  props: IServiceRowProps
): void {
  const row = event.currentTarget;
  const rows = [
    ...(row
      .closest('.jp-svc-List')
      ?.querySelectorAll<HTMLElement>('.jp-svc-RowHeader') ?? [])
  ];
  const at = rows.indexOf(row);
  const move = (to: number) => {
    event.preventDefault();
    rows[Math.max(0, Math.min(rows.length - 1, to))]?.focus();
  };
  switch (event.key) {
    case 'ArrowDown':
      return move(at + 1);
    case 'ArrowUp':
      return move(at - 1);
    case 'Home':
      return move(0);
    case 'End':
      return move(rows.length - 1);
    case 'ArrowRight':
      if (!props.expanded) {
        event.preventDefault();
        props.onToggle();
      }
      return;
    case 'ArrowLeft':
      if (props.expanded) {
        event.preventDefault();
        props.onToggle();
      }
      return;
  }
}

/**
 * The compact view's row: state dot, name, one line of information, and Open; a click or
 * Enter expands it to the description, the whole message, the details and every action.
 */
export function ServiceRow(props: IServiceRowProps): JSX.Element {
  const { view, now, trans, expanded } = props;
  const { spec, status } = view;
  const detailsId = `jp-svc-row-${view.name}`;
  const info = shortInfo(view, now, trans);
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  return (
    <li
      className="jp-svc-Service jp-svc-ListRow"
      data-service={view.name}
      data-state={status.state}
      data-expanded={expanded}
    >
      <div
        className="jp-svc-RowHeader"
        role="button"
        tabIndex={0}
        aria-expanded={expanded}
        aria-controls={detailsId}
        title={
          expanded ? trans.__('Hide details') : trans.__('Details and actions')
        }
        onClick={props.onToggle}
        onKeyDown={event => {
          if (event.target !== event.currentTarget) {
            return; // a key on the Open button is the button's
          }
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            props.onToggle();
          } else {
            onRowKey(event, props);
          }
        }}
      >
        <Caret.react tag="span" className="jp-svc-Caret" />
        <span
          className={`jp-svc-Dot jp-svc-tone-${stateTone(status.state)}`}
          data-state={status.state}
          title={stateLabel(status.state, trans)}
          aria-label={stateLabel(status.state, trans)}
          role="img"
        />
        <span className="jp-svc-Name">{view.name}</span>
        <span className="jp-svc-Info" title={info}>
          {info}
        </span>
        <ActionButton
          action="open"
          icon={launchIcon}
          title={trans.__('Open')}
          onClick={() =>
            void props.commands.execute(CommandIDs.open, { name: view.name })
          }
        />
      </div>
      {expanded ? (
        <div className="jp-svc-RowDetails" id={detailsId}>
          <div className="jp-svc-ServiceHeader">
            <StateBadge {...props} />
            {spec.description ? (
              <span className="jp-svc-Description">{spec.description}</span>
            ) : null}
          </div>
          {status.message && status.state !== 'ready' ? (
            <MessageBox message={status.message} trans={trans} full />
          ) : null}
          <Details {...props} />
          <ServiceActions {...props} withOpen={false} />
        </div>
      ) : null}
    </li>
  );
}
