/**
 * A main-area viewer that follows a service's log stream (GET services/<name>/logs?follow=1):
 * what its process did (from the server's marker lines), when the follow ended and why, and
 * search (highlight, next / previous), wrap and download of what it shows.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { ApiError, SvcApi } from './api';
import {
  findMatches,
  LineBuffer,
  localTime,
  logFileName,
  processNews
} from './logtext';
import { readText } from './sse';

export { LineBuffer };

export type LogState = 'connecting' | 'following' | 'ended' | 'error';

export interface ILogViewOptions {
  api: SvcApi;
  name: string;
  trans: TranslationBundle;
  tail?: number;
}

/** Builds one toolbar button of the viewer. */
function toolButton(
  action: string,
  label: string,
  title: string,
  onClick: () => void
): HTMLButtonElement {
  const button = document.createElement('button');
  button.className = 'jp-svc-LogTool jp-mod-styled';
  button.dataset.action = action;
  button.textContent = label;
  button.title = title;
  button.setAttribute('aria-label', title);
  button.addEventListener('click', onClick);
  return button;
}

export class LogView extends Widget {
  constructor(private readonly options: ILogViewOptions) {
    super();
    const { trans } = options;
    this.addClass('jp-svc-LogView');
    const bar = document.createElement('div');
    bar.className = 'jp-svc-LogBar';
    this._status = document.createElement('div');
    this._status.className = 'jp-svc-LogStatus';
    this._status.setAttribute('role', 'status');
    const tools = document.createElement('div');
    tools.className = 'jp-svc-LogTools';
    this._search = document.createElement('input');
    this._search.type = 'search';
    this._search.className = 'jp-svc-LogSearch jp-mod-styled';
    this._search.placeholder = trans.__('Search the log');
    this._search.setAttribute('aria-label', trans.__('Search the log'));
    this._search.addEventListener('input', () => {
      this._current = 0;
      this._render(true);
    });
    this._search.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.findNext(event.shiftKey ? -1 : 1);
      } else if (event.key === 'Escape') {
        this._search.value = '';
        this._render();
      }
    });
    this._count = document.createElement('span');
    this._count.className = 'jp-svc-LogCount';
    this._count.setAttribute('aria-live', 'polite');
    const wrap = document.createElement('label');
    wrap.className = 'jp-svc-LogWrap';
    this._wrap = document.createElement('input');
    this._wrap.type = 'checkbox';
    this._wrap.checked = true;
    this._wrap.dataset.action = 'wrap';
    this._wrap.addEventListener('change', () => this._applyWrap());
    wrap.append(this._wrap, trans.__('Wrap'));
    tools.append(
      this._search,
      toolButton('prev', '↑', trans.__('Previous match (Shift+Enter)'), () =>
        this.findNext(-1)
      ),
      toolButton('next', '↓', trans.__('Next match (Enter)'), () =>
        this.findNext(1)
      ),
      this._count,
      wrap,
      toolButton(
        'download',
        trans.__('Download'),
        trans.__('Save what is shown as a .log file'),
        () => this.download()
      )
    );
    bar.append(this._status, tools);
    this._pre = document.createElement('pre');
    this._pre.className = 'jp-svc-LogText';
    this.node.append(bar, this._pre);
    this.node.tabIndex = 0;
    this._applyWrap();
  }

  /** The service whose log this is (what a restored tab reopens). */
  get name(): string {
    return this.options.name;
  }

  get state(): LogState {
    return this._state;
  }

  get text(): string {
    return this._buffer.text;
  }

  /** The search's matches in the text shown, and which one is current. */
  get matches(): { count: number; current: number } {
    return { count: this._matches.length, current: this._current };
  }

  /** (Re)start following from the last `tail` lines. */
  follow(): void {
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    this._buffer.clear();
    this._ended = null;
    this._render();
    this._setState('connecting');
    void this._run(abort);
  }

  /** Search for `query` (what typing in the search box does). */
  search(query: string): void {
    this._search.value = query;
    this._current = 0;
    this._render(true);
  }

  /** Go to the next (1) or previous (-1) match, round the end. */
  findNext(step: 1 | -1): void {
    const count = this._matches.length;
    if (!count) {
      return;
    }
    this._current = (this._current + step + count) % count;
    this._render(true);
  }

  /** Save the text shown as `<service>-<time>.log`. */
  download(): void {
    const blob = new Blob([this.text], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = logFileName(this.name);
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (!this._abort) {
      this.follow();
    }
  }

  dispose(): void {
    this._abort?.abort();
    this._abort = null;
    super.dispose();
  }

  private async _run(abort: AbortController): Promise<void> {
    const { api, name, trans } = this.options;
    try {
      const response = await api.logs(
        name,
        abort.signal,
        this.options.tail ?? 200
      );
      if (abort.signal.aborted) {
        return;
      }
      this._setState('following');
      await readText(
        response,
        text => {
          this._buffer.push(text);
          this._scheduleRender();
        },
        abort.signal
      );
      if (!abort.signal.aborted) {
        this._ended = {
          at: new Date().toLocaleTimeString(),
          deleted: await this._isDeleted()
        };
        this._render();
        this._setState('ended');
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        this._setState(
          'error',
          trans.__('Cannot read the log: %1', (error as Error).message)
        );
      }
    }
  }

  /** Whether the stream ended because the service is gone (its last line, or a 404 now). */
  private async _isDeleted(): Promise<boolean> {
    if (processNews(this._buffer.lines).kind === 'deleted') {
      return true;
    }
    try {
      await this.options.api.get(this.name);
      return false;
    } catch (error) {
      return error instanceof ApiError && error.status === 404;
    }
  }

  private _scheduleRender(): void {
    if (this._frame) {
      return;
    }
    this._frame = true;
    // coalesce bursts of lines into one DOM update
    setTimeout(() => {
      this._frame = false;
      this._render();
    }, 50);
  }

  /** The text, its matches highlighted; `reveal`: scroll to the current match. */
  private _render(reveal = false): void {
    if (this.isDisposed) {
      return;
    }
    const node = this.node;
    const atBottom =
      node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    const text = this._buffer.text;
    const query = this._search.value;
    this._matches = findMatches(text, query);
    this._current = Math.min(
      this._current,
      Math.max(0, this._matches.length - 1)
    );
    if (!this._matches.length) {
      this._pre.textContent = text;
    } else {
      const parts: (string | HTMLElement)[] = [];
      let at = 0;
      this._matches.forEach(([start, end], i) => {
        parts.push(text.slice(at, start));
        const mark = document.createElement('mark');
        mark.className = 'jp-svc-LogMatch';
        mark.classList.toggle('jp-mod-current', i === this._current);
        mark.textContent = text.slice(start, end);
        parts.push(mark);
        at = end;
      });
      parts.push(text.slice(at));
      this._pre.replaceChildren(...parts);
    }
    this._count.textContent = query
      ? this._matches.length
        ? `${this._current + 1}/${this._matches.length}`
        : this.options.trans.__('no match')
      : '';
    const current = this._pre.querySelector('.jp-mod-current');
    if (reveal && current) {
      current.scrollIntoView?.({ block: 'center' });
    } else if (atBottom && !query) {
      node.scrollTop = node.scrollHeight;
    }
    this._showStatus();
  }

  private _applyWrap(): void {
    this._pre.classList.toggle('jp-mod-wrap', this._wrap.checked);
  }

  private _setState(state: LogState, detail = ''): void {
    this._state = state;
    this._detail = detail;
    this.node.dataset.state = state;
    this._showStatus();
  }

  /** What it follows, what the process did, and when and why the follow ended. */
  private _showStatus(): void {
    const { trans, name } = this.options;
    const news = processNews(this._buffer.lines);
    this.node.dataset.process = news.kind;
    let process = '';
    if (news.kind === 'running') {
      process = trans.__('pid %1, started at %2', news.pid, localTime(news.at));
    } else if (news.kind === 'exited') {
      process = trans.__(
        'its process (pid %1) %2 at %3',
        news.pid,
        news.how,
        localTime(news.at)
      );
    }
    let text: string;
    switch (this._state) {
      case 'connecting':
        text = trans.__('Connecting to the log of %1…', name);
        break;
      case 'following':
        text = process
          ? trans.__('Following the log of %1: %2', name, process)
          : trans.__('Following the log of %1', name);
        break;
      case 'ended':
        if (this._ended?.deleted) {
          text = trans.__(
            'Stream ended: service deleted (%1, at %2).',
            name,
            this._ended.at
          );
        } else {
          text = trans.__(
            'Stream ended at %1 (the server closed it); the refresh button follows it again.',
            this._ended?.at ?? ''
          );
          if (process) {
            text += ' ' + trans.__('Last news: %1.', process);
          }
        }
        break;
      default:
        text = this._detail;
    }
    this._status.textContent = text;
    this._status.classList.toggle('jp-mod-error', this._state === 'error');
    this.node.dataset.ended = this._ended?.deleted ? 'deleted' : '';
  }

  private _buffer = new LineBuffer();
  private _abort: AbortController | null = null;
  private _frame = false;
  private _state: LogState = 'connecting';
  private _detail = '';
  private _ended: { at: string; deleted: boolean } | null = null;
  private _matches: [number, number][] = [];
  private _current = 0;
  private _status: HTMLDivElement;
  private _search: HTMLInputElement;
  private _count: HTMLSpanElement;
  private _wrap: HTMLInputElement;
  private _pre: HTMLPreElement;
}
