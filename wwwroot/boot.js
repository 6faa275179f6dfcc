// The page's entry point: index.html loads this, and this loads the rest. It
// imports nothing statically, because its second job has to happen before any
// other module is fetched.
//
// 1. Framed with the issuer's answer, the page is only the end of a silent
//    sign-in (main.js's hidden frame): it hands the answer to the page of
//    this origin that opened the frame, and loads nothing else.
//
// 2. A page of one deploy, never a mix. The modules have plain names, so a
//    deploy serves them with `Cache-Control: public, max-age=300`
//    (crates/stack/src/website.rs: only hashed names are kept longer, and only pages
//    and config.json are revalidated on every load). For five minutes after
//    loading the chat, a browser may take a module from its cache without
//    asking, and so run a new index.html or a new module beside old ones
//    after a deploy (CloudFront invalidates the changed paths, but not the
//    browser's copies). So before importing main.js, every module is
//    requested once with `cache: 'no-cache'`: each is revalidated (a 304 when
//    unchanged), and the browser's HTTP cache then holds the current copy of
//    every one, which the imports that follow read. No build step, no version
//    to bump: the server's ETags are the version. A stale copy of this file
//    is harmless: it revalidates its own version's modules, and a module it
//    does not know is not in the cache at all. tests/unit/boot.test.mjs checks
//    that MODULES names every module, and tests/browser/deploy.test.mjs that
//    Chromium runs a deploy's modules together under those Cache-Control headers.

/** Every module of the page but this one (tests/unit/boot.test.mjs keeps it complete). */
const MODULES = [
  'chat.js',
  'connection.js',
  'conversations.js',
  'limits.js',
  'main.js',
  'names.js',
  'oidc.js',
  'online.js',
  'outbox.js',
  'protocol.js',
  'render.js',
  'signin.js',
  'storage.js',
];

/** Asks the server for a module's current copy, which lands in the HTTP cache. */
async function revalidate(name) {
  try {
    const response = await fetch(new URL(name, import.meta.url), { cache: 'no-cache' });
    // Read to the end, so that a changed module is stored whole.
    await response.arrayBuffer();
  } catch {
    // Offline, say: the import below asks for it again, and fails or not on its own.
  }
}

const answer = new URLSearchParams(window.location.search);
const answered = answer.has('state') && (answer.has('code') || answer.has('error'));
if (window.top !== window.self && answered) {
  window.parent.postMessage({ type: 'wschat-sign-in', search: window.location.search }, window.location.origin);
} else {
  await Promise.all(MODULES.map(revalidate));
  await import('./main.js');
}
