/** Command ids: one per action, usable from the palette, menus, key bindings and tests. */
export namespace CommandIDs {
  export const open = 'jupyter-svc:open';
  export const openTab = 'jupyter-svc:open-tab';
  export const openInLab = 'jupyter-svc:open-in-lab';
  export const wake = 'jupyter-svc:wake';
  export const stop = 'jupyter-svc:stop';
  export const restart = 'jupyter-svc:restart';
  export const enable = 'jupyter-svc:enable';
  export const disable = 'jupyter-svc:disable';
  export const remove = 'jupyter-svc:delete';
  export const logs = 'jupyter-svc:logs';
  export const create = 'jupyter-svc:create';
  export const edit = 'jupyter-svc:edit';
  export const refresh = 'jupyter-svc:refresh';
  export const showPanel = 'jupyter-svc:show-panel';
}
