/** A main-area viewer that follows a service's log stream (GET services/<name>/logs?follow=1). */

import { TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { SvcApi } from './api';
import { readText } from './sse';

export type LogState = 'connecting' | 'following' | 'ended' | 'error';

/** Keeps the last `maxLines` complete lines of a text stream, plus the unfinished one. */
export class LineBuffer {
  constructor(readonly maxLines = 5000) {}

  push(text: string): void {
    const parts = (this._partial + text).split('\n');
    this._partial = parts.pop() ?? '';
    this._lines.push(...parts);
    if (this._lines.length > this.maxLines) {
      this._lines.splice(0, this._lines.length - this.maxLines);
    }
  }

  get text(): string {
    return (
      this._lines.join('\n') + (this._lines.length ? '\n' : '') + this._partial
    );
  }

  get lineCount(): number {
    return this._lines.length + (this._partial ? 1 : 0);
  }

  clear(): void {
    this._lines = [];
    this._partial = '';
  }

  private _lines: string[] = [];
  private _partial = '';
}

export interface ILogViewOptions {
  api: SvcApi;
  name: string;
  trans: TranslationBundle;
  tail?: number;
}

export class LogView extends Widget {
  constructor(private readonly options: ILogViewOptions) {
    super();
    this.addClass('jp-svc-LogView');
    this._status = document.createElement('div');
    this._status.className = 'jp-svc-LogStatus';
    this._pre = document.createElement('pre');
    this._pre.className = 'jp-svc-LogText';
    this.node.appendChild(this._status);
    this.node.appendChild(this._pre);
    this.node.tabIndex = 0;
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

  /** (Re)start following from the last `tail` lines. */
  follow(): void {
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    this._buffer.clear();
    this._render();
    this._setState('connecting');
    void this._run(abort);
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

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const node = this.node;
    const atBottom =
      node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    this._pre.textContent = this._buffer.text;
    if (atBottom) {
      node.scrollTop = node.scrollHeight;
    }
  }

  private _setState(state: LogState, detail = ''): void {
    const { trans, name } = this.options;
    this._state = state;
    this.node.dataset.state = state;
    const text: Record<LogState, string> = {
      connecting: trans.__('Connecting to the log of %1…', name),
      following: trans.__('Following the log of %1', name),
      ended: trans.__('The log stream of %1 ended.', name),
      error: detail
    };
    this._status.textContent = text[state];
    this._status.classList.toggle('jp-mod-error', state === 'error');
  }

  private _buffer = new LineBuffer();
  private _abort: AbortController | null = null;
  private _frame = false;
  private _state: LogState = 'connecting';
  private _status: HTMLDivElement;
  private _pre: HTMLPreElement;
}
