// A person at a browser giving consent, for the end-to-end suite: Debian's
// chromium, headless, driven by playwright-core (never a browser of its own)
// through oidc-provider's login and consent pages (server.mjs with
// user_flows).
//
//   node browser.mjs --provider-dir DIR --chromium BIN --url URL --login NAME
//        [--until PREFIX] [--user-code CODE] [--timeout SECONDS]
//
// Authorization code: --url is the authorize URL and --until the
// redirect_uri: the browser logs in, approves, and follows the redirect
// until a page whose address starts with PREFIX has loaded (the plugin's
// callback on Vault, or a test's listener). Device flow: --url is the
// verification_uri and --user-code the code to type; it ends on the
// provider's success page.
//
// Prints one JSON line: {"steps": [...], "final_url": origin and path of
// the last page, "final_query": its query (the authorization code and
// state: printed here only, for the test to replay, never logged),
// "status": its HTTP status, "text": the start of its text}. Exits 1 with
// the same line and an "error" when a page is not one it knows or the time
// is up. Only loopback addresses are reached: the login pages' web font is
// refused, as a machine without the Internet would.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    'provider-dir': { type: 'string' },
    chromium: { type: 'string' },
    url: { type: 'string' },
    until: { type: 'string' },
    'user-code': { type: 'string' },
    login: { type: 'string', default: 'e2e-user' },
    timeout: { type: 'string', default: '30' },
  },
});
for (const name of ['provider-dir', 'chromium', 'url']) {
  if (!args[name]) fail(`--${name} is required`);
}
if (!args.until && !args['user-code']) fail('--until (authorization code) or --user-code (device flow) is required');

const deadline = Date.now() + Number(args.timeout) * 1000;
const { chromium } = await import(pathToFileURL(path.join(args['provider-dir'], 'node_modules', 'playwright-core', 'index.mjs')).href);

// The flags this machine's Chromium needs (closed network, root, no GPU).
const launchStart = Date.now();
const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  timeout: remaining(),
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
log(`chromium ${browser.version()} started in ${Date.now() - launchStart}ms`);
const result = { steps: [] };
let code = 0;
try {
  await consent(browser, result);
} catch (err) {
  result.error = err.message.split('\n')[0];
  code = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(code);

// consent walks the pages until the redirect target (or the device flow's
// success page) has loaded: which page comes next is the provider's choice
// (a remembered login skips the form), so each is recognised by its form.
async function consent(b, out) {
  // A new context is a new profile: no cookie, no remembered login.
  const context = await b.newContext();
  await context.route('**/*', (route) => (loopback(route.request().url()) ? route.continue() : route.abort()));
  const page = await context.newPage();
  let last;
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) last = r;
  });
  page.setDefaultTimeout(10000);
  await page.goto(args.url, { timeout: remaining() });
  let userCodeSent = false;
  for (;;) {
    await page.waitForLoadState('load', { timeout: remaining() });
    if (args.until && page.url().startsWith(args.until)) {
      return finish(page, last, out);
    }
    const step = await recognise(page);
    if (step === 'success') return finish(page, last, out);
    if (step === 'user_code' && userCodeSent) throw new Error(`the provider asked for the user code again: ${await pageText(page)}`);
    out.steps.push(step);
    log(`${step} at ${where(page.url())}`);
    await Promise.all([page.waitForNavigation({ timeout: remaining() }), act(page, step)]);
    if (step === 'user_code') userCodeSent = true;
    if (Date.now() > deadline) throw new Error(`time is up at ${where(page.url())}`);
  }
}

// recognise names the page by its form (oidc-provider's dev interactions
// and device flow pages, lib/views and lib/helpers/defaults.js).
async function recognise(page) {
  // The confirm page carries the user code in a hidden input: it is
  // recognised first.
  const checks = [
    ['login', 'input[name=login]'],
    ['consent', 'input[name=prompt][value=consent]'],
    ['confirm', 'button[form="op.deviceConfirmForm"]:not([name=abort])'],
    ['user_code', 'input[name=user_code]:not([type=hidden])'],
  ];
  for (const [step, selector] of checks) {
    if (await page.locator(selector).count() > 0) return step;
  }
  if (args['user-code'] && /Sign-in Success/i.test(await pageText(page))) return 'success';
  throw new Error(`unknown page ${where(page.url())} (HTTP ${await statusOf(page)}): ${await pageText(page)}`);
}

async function act(page, step) {
  switch (step) {
    case 'login':
      await page.fill('input[name=login]', args.login);
      // Any password: the dev interactions check none.
      await page.fill('input[name=password]', 'any-password');
      return page.click('button[type=submit]');
    case 'consent':
      return page.click('button[type=submit]');
    case 'user_code':
      await page.fill('input[name=user_code]', args['user-code']);
      return page.click('button[type=submit][form="op.deviceInputForm"]');
    case 'confirm':
      return page.click('button[form="op.deviceConfirmForm"]:not([name=abort])');
    default:
      throw new Error(`no action for ${step}`);
  }
}

async function finish(page, response, out) {
  out.final_url = where(page.url());
  out.final_query = new URL(page.url()).search.replace(/^\?/, '');
  out.status = response ? response.status() : 0;
  out.text = await pageText(page);
  log(`done at ${out.final_url}: HTTP ${out.status}`);
}

async function statusOf(page) {
  return (await page.evaluate(() => performance.getEntriesByType('navigation')[0]?.responseStatus)) ?? 0;
}

async function pageText(page) {
  const text = await page.evaluate(() => document.body?.innerText ?? '').catch(() => '');
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

// where is an address without its query: the authorization code and state
// are the query's, and stay out of logs.
function where(u) {
  const url = new URL(u);
  return url.origin + url.pathname;
}

function loopback(u) {
  const { protocol, hostname } = new URL(u);
  if (protocol === 'data:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

function remaining() {
  return Math.max(1, deadline - Date.now());
}

function log(msg) {
  console.error(`${new Date().toISOString()} browser: ${msg}`);
}

function fail(msg) {
  console.error(`browser: ${msg}`);
  process.exit(2);
}
