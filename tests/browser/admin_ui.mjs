// Kinto Admin, served by kintod at /v1/admin/, driven in Debian's chromium:
// sign in with Basic auth, create a bucket, a collection with a JSON schema,
// two records, edit one, open the history and permissions tabs, delete a
// record. A screenshot is kept per step; any console error, or any answer of
// 400 or more from kintod, fails the test. What the UI did is then read back
// through the API.
//
//   node admin_ui.mjs KINTOD ADMIN_BUILD ARTIFACTS_DIR [CHROMIUM]
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [kintod, adminBuild, artifacts, chromium = '/usr/bin/chromium'] = process.argv.slice(2);
if (!kintod || !adminBuild || !artifacts) {
  console.error('usage: node admin_ui.mjs KINTOD ADMIN_BUILD ARTIFACTS_DIR [CHROMIUM]');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

/// Starts kintod on an ephemeral port with a fresh data directory; resolves
/// to its base URL once it says where it listens.
function startKintod() {
  const dir = mkdtempSync(join(tmpdir(), 'kintod-admin-'));
  const ini = join(dir, 'kinto.ini');
  writeFileSync(ini, [
    '[server:main]', 'host = 127.0.0.1', 'port = 0', '',
    '[app:main]',
    'kinto.storage_backend = lmdb',
    `kinto.storage_url = ${join(dir, 'data')}`,
    'kinto.userid_hmac_secret = admin-ui-test',
    'kinto.includes = kinto.plugins.admin kinto.plugins.history',
    `kinto.admin_assets_path = ${adminBuild}`,
    'multiauth.policies = basicauth',
    'kinto.bucket_create_principals = system.Authenticated',
    '',
  ].join('\n'));
  const child = spawn(kintod, ['--ini', ini], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = new Promise((resolve, reject) => {
    const seen = (chunk) => {
      output += chunk;
      const m = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve(m[1]);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`kintod exited (${code}) before listening:\n${output}`)));
  });
  return { child, dir, url, output: () => output };
}

const server = startKintod();
const base = await server.url;
const origin = new URL(base).origin;
const user = 'alice', password = 's3cret';
const problems = [];
let browser;
let shot = 0;

/// The API, as the signed-in user, for checks after the UI's work.
async function api(path) {
  const r = await fetch(`${base}/v1${path}`, {
    headers: { Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') },
  });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

try {
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(15000);
  // The build's index.html links ../images/favicon.png, a file the build
  // does not ship (upstream Kinto answers it 404 too): its 404 and the
  // console's note of it are the one exception.
  const favicon = '/v1/images/favicon.png';
  page.on('console', (m) => {
    const from = m.location()?.url ?? '';
    if (m.type() === 'error' && !from.endsWith(favicon)) problems.push(`console error: ${m.text()} (${from})`);
  });
  page.on('pageerror', (e) => {
    // Kinto Admin's header asks for /__heartbeat__ as it mounts, which may
    // be before its client is set up after the sign-in: its own race, not
    // an answer of kintod's.
    if (e.message === 'Client not configured.') return;
    problems.push(`page error at ${page.url()}: ${e.stack ?? e.message}`);
  });
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.pathname === favicon) return;
    if (url.origin === origin && r.status() >= 400) problems.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });
  const step = async (name, work) => {
    process.stdout.write(`step ${shot + 1}: ${name}\n`);
    const file = join(artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`);
    try {
      await work();
    } catch (e) {
      await page.screenshot({ path: file.replace('.png', '-failed.png'), fullPage: true });
      throw new Error(`step ${name}, at ${page.url()}: ${e.message}`);
    }
    await page.screenshot({ path: file, fullPage: true });
  };
  /// Replaces the text of the code editor of the field `id`.
  const setEditor = async (id, text) => {
    const editor = `#${id} ~ div .cm-content, label[for="${id}"] ~ div .cm-content`;
    await page.waitForSelector(editor);
    await page.click(editor);
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.press('Backspace');
    // Typed as one insertion: the editor does not close brackets for it.
    await page.evaluate((t) => document.execCommand('insertText', false, t), text);
  };
  const submit = async (label) => {
    const [button] = await page.$$(`xpath/.//button[@type="submit" and contains(., "${label}")]`);
    check(button, `a submit button "${label}"`);
    await button.click();
  };
  const waitForText = (text) =>
    page.waitForFunction((t) => document.body.innerText.includes(t), {}, text);

  await step('sign-in', async () => {
    await page.goto(`${base}/v1/admin/`, { waitUntil: 'networkidle0' });
    await page.click('#root_authType-1');
    await page.waitForSelector('#root_credentials_username');
    await page.type('#root_credentials_username', user);
    await page.type('#root_credentials_password', password);
    await submit('Sign in');
    await page.waitForSelector('a[href="#/buckets/create"]');
    await page.waitForNetworkIdle();
  });

  await step('create-bucket', async () => {
    await page.click('a[href="#/buckets/create"]');
    await page.waitForSelector('#root_id');
    await page.type('#root_id', 'shop');
    await submit('Create bucket');
    await waitForText('Edit shop bucket attributes');
    // The UI learns what its user may do (GET /permissions) as its session
    // opens: a new bucket is shown as writable once the page is reloaded.
    await page.reload({ waitUntil: 'networkidle0' });
    await page.waitForSelector('a[href="#/buckets/shop/collections/create"]');
  });

  const schema = {
    type: 'object',
    properties: { title: { type: 'string' }, price: { type: 'number' } },
    required: ['title'],
  };
  await step('create-collection', async () => {
    await page.click('a[href="#/buckets/shop/collections/create"]');
    await page.waitForSelector('#root_id');
    await page.type('#root_id', 'products');
    await setEditor('root_schema', JSON.stringify(schema));
    await setEditor('root_uiSchema', '{}');
    await submit('Create collection');
    await page.waitForSelector('a[href="#/buckets/shop/collections/products/records/create"]');
  });

  for (const [title, price] of [['tea', 3], ['coffee', 4]]) {
    await step(`create-record-${title}`, async () => {
      await page.click('a[href="#/buckets/shop/collections/products/records/create"]');
      await page.waitForSelector('#root_title');
      await page.type('#root_title', title);
      await page.type('#root_price', String(price));
      await submit('Create record');
      await waitForText(title);
      await page.waitForSelector('a[href="#/buckets/shop/collections/products/records/create"]');
    });
  }

  const records = (await api('/buckets/shop/collections/products/records')).data;
  check(records.length === 2, `two records stored, not ${records.length}`);
  const tea = records.find((r) => r.title === 'tea');
  const coffee = records.find((r) => r.title === 'coffee');
  check(tea && coffee, 'the records as typed');

  await step('edit-record', async () => {
    await page.goto(`${base}/v1/admin/#/buckets/shop/collections/products/records/${tea.id}/attributes`);
    await page.waitForSelector('#root_title');
    await page.click('#root_title', { clickCount: 3 });
    await page.type('#root_title', 'green tea');
    await submit('Update record');
    await waitForText('green tea');
  });

  const collectionTab = (tab) => page.click(`a[href="#/buckets/shop/collections/products/${tab}"]`);
  await step('history', async () => {
    await collectionTab('history');
    await waitForText('History for');
    // Both creations, the update, and the collection's creation.
    await page.waitForFunction(
      (ids) => ids.every((id) => document.body.innerText.includes(id)) && document.body.innerText.includes('update'),
      {}, [tea.id, coffee.id]);
  });

  await step('permissions', async () => {
    await collectionTab('permissions');
    await waitForText('Permissions for');
  });

  await step('delete-record', async () => {
    await collectionTab('records');
    await waitForText('coffee');
    page.once('dialog', (d) => d.accept());
    const row = `xpath/.//tr[contains(., "coffee")]//button[contains(@class, "btn-danger") or @title="Delete record"]`;
    const [remove] = await page.$$(row);
    check(remove, 'a delete button on the coffee row');
    await remove.click();
    const [confirm] = await page.$$('xpath/.//div[contains(@class, "modal")]//button[contains(., "Delete")]');
    if (confirm) await confirm.click();
    await page.waitForFunction(() => !document.body.innerText.includes('coffee'));
  });

  // What the UI did, read back.
  const left = (await api('/buckets/shop/collections/products/records')).data;
  check(left.length === 1 && left[0].id === tea.id && left[0].title === 'green tea', `one record left, edited: ${JSON.stringify(left)}`);
  const collection = (await api('/buckets/shop/collections/products')).data;
  check(JSON.stringify(collection.schema) === JSON.stringify(schema), `the collection's schema: ${JSON.stringify(collection.schema)}`);
  const history = (await api('/buckets/shop/history')).data;
  const actions = history.filter((h) => h.resource_name === 'record').map((h) => h.action).sort();
  check(JSON.stringify(actions) === JSON.stringify(['create', 'create', 'delete', 'update']), `record history: ${actions}`);
} catch (e) {
  problems.push(`failed: ${e.stack ?? e}`);
} finally {
  if (browser) await browser.close();
  server.child.kill('SIGTERM');
  rmSync(server.dir, { recursive: true, force: true });
}

if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`screenshots in ${artifacts}`);
  process.exit(1);
}
console.log(`Kinto Admin: ${shot} steps, no console error, no answer of 400 or more; screenshots in ${artifacts}`);
