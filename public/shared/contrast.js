// WCAG 2 contrast, as the widget computes it (widget/widget.js keeps its
// own copy: the loader is a classic script and must stay tiny). The
// admin page uses it to show a brand colour's ratios as it is picked.

const rgb = (c) => {
  const h = c.length === 4 ? c.replace(/\w/g, '$&$&') : c;
  return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
};

// luminance is the relative luminance of #rgb or #rrggbb.
export function luminance(c) {
  return rgb(c).reduce((s, v, i) => {
    const x = v / 255;
    return s + [0.2126, 0.7152, 0.0722][i] * (x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
  }, 0);
}

// ratio is the contrast ratio of two colours, 1 to 21.
export function ratio(a, b) {
  const x = luminance(a), y = luminance(b);
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}

// textOn is the text colour the widget puts on a brand colour: white or
// black, whichever contrasts more.
export const textOn = (c) => (ratio(c, '#ffffff') >= ratio(c, '#000000') ? '#ffffff' : '#000000');

// fmt writes a ratio as people read it: "4.5:1".
export const fmt = (r) => `${(Math.floor(r * 100) / 100).toFixed(2).replace(/0$/, '')}:1`;
