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
