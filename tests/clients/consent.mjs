// A resource owner in a real browser: Debian's Chromium, driven by
// playwright-core, opens an authorization request, logs in (HTTP Basic, or
// httpd's own form login), looks at the consent page, answers it, and
// follows the redirect back to the client.  tests/integration runs it and
// judges what it reports; nothing here decides whether the server is right.
//
//   node consent.mjs '{"url": ..., "decision": "approve"|"deny"|"none",
//                      "login": {"how": "basic"|"form", "user", "password"},
//                      "back_to": "http://127.0.0.1:PORT/cb",
//                      "screenshot": "/path.png", "viewport": [w, h],
//                      "again": true}'
//
// Prints one JSON object: the URL the browser ended on, the consent page's
// text and headers, what the console said (a CSP violation shows there),
// and, with "again", the answer to posting the same form a second time.
import { chromium } from 'playwright-core';

const args = JSON.parse(process.argv[2]);
const out = { console: [], landed: null, page_status: null };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run',
         '--disable-quic'],
});
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: args.viewport ? { width: args.viewport[0],
                                height: args.viewport[1] } : undefined,
    httpCredentials: args.login.how === 'basic'
      ? { username: args.login.user, password: args.login.password }
      : undefined,
  });
  const page = await context.newPage();
  page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));

  let response = await page.goto(args.url);
  if (args.login.how === 'form') {
    // httpd's mod_auth_form: the login page in place of the answer (401)
    out.login_status = response.status();
    await page.fill('input[name="httpd_username"]', args.login.user);
    await page.fill('input[name="httpd_password"]', args.login.password);
    [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('button[type="submit"], input[type="submit"]'),
    ]);
  }
  out.page_status = response.status();
  out.page_headers = response.headers();
  out.page_text = await page.locator('body').innerText();
  // nothing to scroll sideways: the page fits the viewport it was given
  out.fits = await page.evaluate(
    () => document.documentElement.scrollWidth <= window.innerWidth);
  out.page_html = await page.content();
  if (args.screenshot) {
    await page.screenshot({ path: args.screenshot, fullPage: true });
  }
  if (args.decision !== 'none' && out.page_status === 200) {
    const form = await page.locator('form').first();
    const fields = await form.evaluate((f) => Object.fromEntries(
      [...new FormData(f)].map(([k, v]) => [k, String(v)])));
    out.form_fields = fields;
    out.form_action = await form.evaluate((f) => f.action);
    const name = args.decision === 'approve' ? /allow/i : /deny/i;
    const landed = page.waitForURL((u) => u.href.startsWith(args.back_to),
                                   { timeout: 10000 })
      .then(() => page.url()).catch(() => null);
    await page.getByRole('button', { name }).click();
    out.landed = await landed;
    out.landed_text = out.landed
      ? await page.locator('body').innerText().catch(() => null) : null;
    if (args.again) {
      // the same form posted once more, as a second tab or a replay would
      const again = await context.request.post(out.form_action, {
        form: { ...fields, decision: args.decision },
        maxRedirects: 0,
      });
      out.again_status = again.status();
      out.again_location = again.headers().location || null;
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
