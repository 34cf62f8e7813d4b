// The preflight's in-page half: step through every slide and fragment of a reveal.js deck and
// measure, in canvas px (the slide's own 1280x720 or 960x720 coordinates), what does not fit
// or read. Called once per deck by handson/preflight.py with
//   {svg: {url: {width, height, min_size, label}}, rasterTextPx, minTextPx}
// Returns [{slide, name, problems: [{what, px}]}] for every step (slide + fragment state).
async ({svg, rasterTextPx, minTextPx}) => {
  const TOL = 1;  // px of slack for sub-pixel rounding of boxes
  const TEXT_TOL = 0.05;  // px of slack for font sizes (pt to px rounding in the SVGs)
  const config = Reveal.getConfig();
  const W = config.width, H = config.height;
  document.querySelectorAll(".reveal img[data-src]").forEach(i => { if (!i.getAttribute("src")) i.src = i.dataset.src; });
  await Promise.all([...document.images].map(i => i.complete ? null :
    new Promise(done => { i.addEventListener("load", done); i.addEventListener("error", done); })));
  await document.fonts.ready;

  const slidesBox = () => document.querySelector(".reveal .slides").getBoundingClientRect();
  const canvas = (r, s) => {
    const k = s.width / W;
    return {l: (r.left - s.left) / k, t: (r.top - s.top) / k, r: (r.right - s.left) / k, b: (r.bottom - s.top) / k};
  };
  const overlap = (a, b) => Math.min(Math.min(a.r, b.r) - Math.max(a.l, b.l), Math.min(a.b, b.b) - Math.max(a.t, b.t));
  // Screen-reader-only copies (KaTeX's MathML) take no room on the canvas: never measured.
  const UNSEEN = "aside.notes, .katex-mathml, .fragment:not(.visible)";
  const seenText = el => {
    let text = "";
    const walk = n => { for (const c of n.childNodes) c.nodeType === Node.TEXT_NODE ? text += c.data : c.nodeType === Node.ELEMENT_NODE && !c.matches(UNSEEN) && walk(c); };
    walk(el);
    return text;
  };
  const short = (text, n = 40) => { text = text.replace(/\s+/g, " ").trim(); return text.length > n ? text.slice(0, n - 1) + "…" : text; };
  // A file's name; numbered frames of one figure (name_3.png) read as one (name_*.png).
  const file = src => decodeURIComponent(src.split("?")[0].split("/").pop()).replace(/_\d+(\.\w+)$/, "_*$1");
  const BLOCKS = "p, li, pre, table, img, svg, h1, h2, h3, h4, h5, h6, blockquote, .footnote, .katex-display, dt, dd";
  const describe = el => {
    const block = el.closest(BLOCKS) || el;
    const tag = block.tagName.toLowerCase();
    if (tag === "img") return `image ${file(block.currentSrc || block.src)}`;
    if (tag === "pre") return "code block";
    if (tag === "table") return "table";
    if (block.classList.contains("footnote")) return `footnote "${short(seenText(block))}"`;
    return `${/^h\d$/.test(tag) ? "heading" : "text"} "${short(seenText(block))}"`;
  };
  const controls = () => {
    const s = slidesBox();
    const named = [[".reveal .controls .navigate-left", "the previous arrow"], [".reveal .controls .navigate-right", "the next arrow"],
                   [".reveal .slide-number", "the slide number"], [".reader-link", "the reader-view link"]];
    return named.flatMap(([sel, name]) => [...document.querySelectorAll(sel)]
      .filter(e => e.checkVisibility({visibilityProperty: true}) && e.getBoundingClientRect().width > 0)
      .map(e => ({name, box: canvas(e.getBoundingClientRect(), s)})));
  };

  // The visible ink of the current slide: text line boxes and atomic boxes, clipped by scrollers.
  const inkOf = section => {
    const s = slidesBox(), ink = [];
    const scrollers = new Map();  // element -> its box if it clips its content, else null
    const clipBox = e => {
      if (!scrollers.has(e)) {
        const cs = getComputedStyle(e);
        scrollers.set(e, cs.overflowX !== "visible" || cs.overflowY !== "visible" ? canvas(e.getBoundingClientRect(), s) : null);
      }
      return scrollers.get(e);
    };
    // Ink inside a scrolling or clipping box is cut to that box (its overflow is measured apart).
    const add = (el, rect, from) => {
      if (rect.width < 0.5 || rect.height < 0.5) return;
      let box = canvas(rect, s);
      for (let e = from; e && e !== section; e = e.parentElement) {
        const c = clipBox(e);
        if (c) box = {l: Math.max(box.l, c.l), t: Math.max(box.t, c.t), r: Math.min(box.r, c.r), b: Math.min(box.b, c.b)};
      }
      if (box.r - box.l > 0 && box.b - box.t > 0) ink.push({el, box, footnote: el.closest(".footnote") !== null});
    };
    const visit = parent => {
      for (const node of parent.childNodes) {
        if (node.nodeType === Node.TEXT_NODE && node.data.trim()) {
          const range = document.createRange();
          range.selectNodeContents(node);
          for (const r of range.getClientRects()) add(parent, r, parent);
        } else if (node.nodeType === Node.ELEMENT_NODE && !node.matches(UNSEEN)
                   && node.checkVisibility({visibilityProperty: true})) {
          if (node.matches("img, svg, canvas, video, pre")) add(node, node.getBoundingClientRect(), node.parentElement);
          else visit(node);  // an atomic box's inside is checked by measure()
        }
      }
    };
    visit(section);
    return ink;
  };

  const measure = (section, ctrl) => {
    const problems = [], s = slidesBox();
    const ink = inkOf(section);
    for (const {el, box, footnote} of ink) {
      const past = {left: -box.l, top: -box.t, right: box.r - W, bottom: box.b - H};
      const [side, px] = Object.entries(past).sort((a, b) => b[1] - a[1])[0];
      if (px > TOL) problems.push({what: `${describe(el)} beyond the canvas ${side}`, px});
      const inside = {l: Math.max(box.l, 0), t: Math.max(box.t, 0), r: Math.min(box.r, W), b: Math.min(box.b, H)};
      for (const c of ctrl) {  // only on the canvas: what is past it is reported above
        const o = overlap(inside, c.box);
        if (o > TOL) problems.push({what: `${describe(el)} under ${c.name}`, px: o});
      }
      if (footnote) {
        for (const other of ink) {
          if (other.footnote) continue;
          const o = overlap(box, other.box);
          if (o > TOL) problems.push({what: `footnote overlaps ${describe(other.el)}`, px: o});
        }
      }
    }
    const shown = el => el.checkVisibility({visibilityProperty: true}) && !el.closest(UNSEEN);
    for (const el of section.querySelectorAll("*")) {
      if (!shown(el)) continue;
      const cs = getComputedStyle(el), replaced = el.matches("img, svg, canvas, video, iframe, object");
      const what = el.closest("pre") ? "code block" : el.closest("table") ? "table" : describe(el);
      if (!replaced && cs.overflowX !== "visible" && el.scrollWidth - el.clientWidth > TOL)
        problems.push({what: `${what} wider than its box`, px: el.scrollWidth - el.clientWidth});
      if (!replaced && cs.overflowY !== "visible" && el.scrollHeight - el.clientHeight > TOL)
        problems.push({what: `${what} taller than its box`, px: el.scrollHeight - el.clientHeight});
      if (el.tagName === "TABLE" && el.parentElement) {
        const room = el.parentElement.clientWidth - parseFloat(getComputedStyle(el.parentElement).paddingLeft)
                     - parseFloat(getComputedStyle(el.parentElement).paddingRight);
        const k = s.width / W, width = el.getBoundingClientRect().width / k;
        if (width - room > TOL) problems.push({what: "table wider than its box", px: width - room});
      }
      if (el.tagName === "PRE") {
        const px = Math.min(...[el, ...el.querySelectorAll("*")].filter(e => e.textContent.trim())
          .map(e => parseFloat(getComputedStyle(e).fontSize)));
        if (px < minTextPx - TEXT_TOL) problems.push({what: `code text ${px.toFixed(1)} px, under ${minTextPx} px`, px: minTextPx - px});
      }
      if (el.tagName === "IMG") {
        const src = el.currentSrc || el.src;
        if (!(el.complete && el.naturalWidth > 0)) { problems.push({what: `broken image ${file(src)}`, px: 0}); continue; }
        const r = el.getBoundingClientRect(), k = s.width / W, w = r.width / k, h = r.height / k;
        const info = svg[new URL(src).pathname];
        if (info && info.min_size) {
          const px = info.min_size * Math.min(w / info.width, h / info.height);
          if (px < minTextPx - TEXT_TOL) problems.push({what: `figure text "${short(info.label, 24)}" in ${file(src)} ${px.toFixed(1)} px, under ${minTextPx} px`, px: minTextPx - px});
        } else if (!info && /\/_generated\//.test(src) && !/\.svg$/i.test(new URL(src).pathname)) {
          const px = rasterTextPx * w / el.naturalWidth;
          if (px < minTextPx - TEXT_TOL) problems.push({what: `raster figure ${file(src)} shown at ${Math.round(100 * w / el.naturalWidth)}% (text ≈ ${px.toFixed(1)} px), under ${minTextPx} px`, px: minTextPx - px});
        }
      }
    }
    return problems;
  };

  const steps = [];
  const ctrl = controls();
  Reveal.slide(0, 0, -1);
  for (let guard = 0; guard < 5000; guard++) {
    const at = Reveal.getIndices(), section = Reveal.getCurrentSlide();
    const heading = section.querySelector("h1, h2, h3");
    steps.push({slide: at.h + 1, fragment: at.f ?? -1, name: section.id || short(heading ? heading.textContent : "", 30),
                problems: measure(section, ctrl)});
    Reveal.next();
    const now = Reveal.getIndices();
    if (now.h === at.h && now.v === at.v && (now.f ?? -1) === (at.f ?? -1)) break;
  }
  return steps;
}
