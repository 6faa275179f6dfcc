// sessionStorage and localStorage as the page uses them. Storage can be off
// (private mode, a policy; even reading `window.sessionStorage` can throw):
// then every read finds nothing and every write is dropped, and the page
// goes on for this visit.

export class Store {
  /** `open`: a function that returns the Storage, called at each use. */
  constructor(open) {
    this.open = open;
  }

  get(key) {
    try {
      return this.open().getItem(key);
    } catch {
      return null;
    }
  }

  set(key, value) {
    try {
      this.open().setItem(key, value);
    } catch {
      // Storage off: the value lasts as long as the page.
    }
  }

  remove(key) {
    try {
      this.open().removeItem(key);
    } catch {
      // Nothing stored, then.
    }
  }

  /** A JSON array; empty when there is none. */
  list(key) {
    try {
      const list = JSON.parse(this.get(key) || '[]');
      return Array.isArray(list) ? list : [];
    } catch {
      return [];
    }
  }
}
