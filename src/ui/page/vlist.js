// A virtualised list: only the rows in view exist in the page, whatever the count. A list taller
// than browsers let an element be (millions of records) scrolls through a spacer of bounded height,
// each pixel of scrolling then standing for several of the list.

/** Taller elements are clipped or misplaced by some browsers; 4 million px is safe in all. */
const MAX_PX = 4_000_000;

export class VirtualList {
  #box;
  #spacer;
  #layer;
  #rowH;
  #render;
  #count = 0;
  #frame = 0;

  /** `render(i)` returns the element of row i; rows are `rowHeight` px high. */
  constructor(box, { rowHeight, render }) {
    this.#box = box;
    this.#rowH = rowHeight;
    this.#render = render;
    this.#spacer = document.createElement('div');
    this.#spacer.className = 'vlist-spacer';
    this.#layer = document.createElement('div');
    this.#layer.className = 'vlist-layer';
    this.#spacer.append(this.#layer);
    box.append(this.#spacer);
    box.addEventListener('scroll', () => this.refresh());
    new ResizeObserver(() => this.refresh()).observe(box);
  }

  get count() {
    return this.#count;
  }

  setCount(n) {
    this.#count = n;
    this.#spacer.style.height = `${Math.min(n * this.#rowH, MAX_PX)}px`;
    this.refresh();
  }

  /** Page pixels per spacer pixel: 1 unless the list is taller than MAX_PX. */
  #scale() {
    const vh = this.#box.clientHeight;
    const total = this.#count * this.#rowH;
    const spacer = Math.min(total, MAX_PX);
    return total <= MAX_PX || spacer <= vh ? 1 : (total - vh) / (spacer - vh);
  }

  /** Scrolls row i into the middle of the view. */
  scrollToIndex(i) {
    const vh = this.#box.clientHeight;
    const pos = Math.max(0, Math.min(i * this.#rowH - vh / 2 + this.#rowH / 2, this.#count * this.#rowH - vh));
    this.#box.scrollTop = pos / this.#scale();
    this.#draw();
  }

  scrollToEnd() {
    this.#box.scrollTop = this.#box.scrollHeight;
    this.#draw();
  }

  /** Whether the last row is in view. */
  atEnd() {
    return this.#box.scrollTop + this.#box.clientHeight >= this.#box.scrollHeight - 2;
  }

  /** Draws the rows in view again (their data may have arrived), at the next frame. */
  refresh() {
    if (this.#frame === 0) {
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        this.#draw();
      });
    }
  }

  #draw() {
    const top = this.#box.scrollTop;
    const pos = top * this.#scale();
    const first = Math.floor(pos / this.#rowH);
    const shift = pos - first * this.#rowH;
    const n = Math.min(this.#count - first, Math.ceil(this.#box.clientHeight / this.#rowH) + 1);
    this.#layer.style.transform = `translateY(${top}px)`;
    const rows = [];
    for (let k = 0; k < n; k++) {
      const row = this.#render(first + k);
      row.style.top = `${k * this.#rowH - shift}px`;
      row.style.height = `${this.#rowH}px`;
      rows.push(row);
    }
    this.#layer.replaceChildren(...rows);
  }
}
