import { LabIcon } from '@jupyterlab/ui-components';

const SERVICES_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 3h16a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm0 8h16a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1zm-1 9a1 1 0 0 1 1-1h6a1 1 0 0 1 1 1v1H3v-1zM6 5.2a.8.8 0 1 0 0 1.6.8.8 0 0 0 0-1.6zm0 8a.8.8 0 1 0 0 1.6.8.8 0 0 0 0-1.6z"/>
  </g>
</svg>`;

/** The sidebar tab's and the default launcher card's icon. */
export const servicesIcon = new LabIcon({
  name: 'jupyter-svc:services',
  svgstr: SERVICES_SVG
});

const urlIcons = new Map<string, LabIcon>();

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;');
}

function hash(text: string): string {
  let h = 5381;
  for (let i = 0; i < text.length; i++) {
    h = ((h << 5) + h + text.charCodeAt(i)) | 0;
  }
  return (h >>> 0).toString(36);
}

/** An icon showing the picture at `url` (a spec's `icon`: an http(s) URL or a data: URI). */
export function iconForUrl(url: string | null | undefined): LabIcon {
  if (!url || !/^(https?:|data:image\/|\/)/.test(url)) {
    return servicesIcon;
  }
  let icon = urlIcons.get(url);
  if (!icon) {
    const svgstr =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 52 52">' +
      `<image href="${escapeAttribute(url)}" width="52" height="52" preserveAspectRatio="xMidYMid meet"/></svg>`;
    icon = new LabIcon({ name: `jupyter-svc:icon-${hash(url)}`, svgstr });
    urlIcons.set(url, icon);
  }
  return icon;
}

/** A colour and two letters for each built-in template (others get the generic icon). */
const TEMPLATE_MARKS: Record<string, [string, string]> = {
  streamlit: ['#ff4b4b', 'St'],
  panel: ['#0072b5', 'Pn'],
  voila: ['#f37726', 'Vo'],
  bokeh: ['#1f7a8c', 'Bk'],
  dash: ['#119dff', 'Da'],
  gradio: ['#f97316', 'Gr'],
  fastapi: ['#009688', 'FA'],
  tensorboard: ['#ff6f00', 'TB'],
  mlflow: ['#0194e2', 'ML'],
  http: ['#607d8b', 'www'],
  command: ['#546e7a', '>_']
};

/** The template a service was made from: the label templates set. */
export const TEMPLATE_LABEL = 'jupyter-svc/template';

/** The inner SVG (52x52) of a template's mark: a rounded square with its letters. */
function templateMark(template: string): string | null {
  const mark = TEMPLATE_MARKS[template];
  if (!mark) {
    return null;
  }
  const [colour, letters] = mark;
  const size = letters.length > 2 ? 18 : 22;
  return (
    `<rect x="2" y="2" width="48" height="48" rx="9" fill="${colour}"/>` +
    `<text x="26" y="33" text-anchor="middle" font-family="sans-serif" font-weight="700" ` +
    `font-size="${size}" fill="#ffffff">${escapeAttribute(letters)}</text>`
  );
}

/** A template's icon (the New Service form's picker shows them too). */
export function templateIcon(template: string): LabIcon {
  const inner = templateMark(template);
  if (!inner) {
    return servicesIcon;
  }
  return iconFor(
    `jupyter-svc:template-${template}`,
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 52 52">${inner}</svg>`
  );
}

const icons = new Map<string, LabIcon>();

function iconFor(name: string, svgstr: string): LabIcon {
  let icon = icons.get(name);
  if (!icon) {
    icon = new LabIcon({ name, svgstr });
    icons.set(name, icon);
  }
  return icon;
}

/** Badge colours per state, as the panel's (theme variables, so dark themes apply). */
const BADGE_TONES: Record<string, string> = {
  ready: 'var(--jp-success-color1)',
  scaled_to_zero: 'var(--jp-warn-color1)',
  failed: 'var(--jp-error-color1)',
  disabled: 'var(--jp-layout-color4)'
};

/**
 * A launcher card's icon: the spec's `icon`, else its template's, else the generic one, with a
 * dot in the corner in the colour of its state (the launcher draws icons, nothing else of ours).
 */
export function launcherIcon(
  url: string | null | undefined,
  template: string | null | undefined,
  state: string
): LabIcon {
  const picture =
    url && /^(https?:|data:image\/|\/)/.test(url)
      ? `<image href="${escapeAttribute(url)}" width="52" height="52" preserveAspectRatio="xMidYMid meet"/>`
      : (templateMark(template ?? '') ??
        `<g transform="translate(6 6) scale(1.666)">${SERVICES_SVG.replace(/^<svg[^>]*>|<\/svg>$/g, '')}</g>`);
  const tone = BADGE_TONES[state] ?? 'var(--jp-brand-color1)';
  const svgstr =
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 60 60">' +
    `<g transform="translate(0 8)">${picture}</g>` +
    `<circle class="jp-svc-LauncherBadge" data-state="${escapeAttribute(state)}" cx="50" cy="10" r="8" ` +
    `style="fill: ${tone}; stroke: var(--jp-layout-color1); stroke-width: 2.5"/></svg>`;
  return iconFor(
    `jupyter-svc:launcher-${hash(`${url ?? ''}|${template ?? ''}`)}-${state}`,
    svgstr
  );
}
