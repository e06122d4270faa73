// SPDX-License-Identifier: MIT
// Opens what pmt-flamegraph and pmt-report write in a real headless Chromium
// and uses it as a person would: no console error and no request leaving
// the file, a click on a frame zooms into it, the search box highlights
// matches, a table header sorts its table, and a screenshot that is not
// blank. Prints one "ok"/"not ok" line per check; exit 1 if any failed.
//
//   node check.mjs flame FILE.svg SHOT.png [SEARCH]
//   node check.mjs report FILE.html SHOT.png [SEARCH]
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';

const [mode, file, shot, term = 'func'] = process.argv.slice(2);
let failed = 0, count = 0;
function check(ok, what, detail) {
	count++;
	console.log(`${ok ? '' : 'not '}ok ${count} - ${what}${ok || !detail ? '' : ': ' + detail}`);
	if (!ok)
		failed++;
}

// The share of a PNG's pixels that differ from its top-left pixel (the
// background): 8-bit RGB or RGBA, non-interlaced, as Chromium writes them.
function inkShare(png) {
	const w = png.readUInt32BE(16), h = png.readUInt32BE(20);
	const depth = png[24], type = png[25], interlace = png[28];
	if (depth !== 8 || (type !== 2 && type !== 6) || interlace)
		throw new Error(`unexpected PNG (depth ${depth}, type ${type})`);
	const bpp = type === 6 ? 4 : 3, stride = w * bpp;
	const idat = [];
	for (let p = 8; p < png.length;) {
		const len = png.readUInt32BE(p), kind = png.toString('ascii', p + 4, p + 8);
		if (kind === 'IDAT')
			idat.push(png.subarray(p + 8, p + 8 + len));
		p += 12 + len;
	}
	const raw = inflateSync(Buffer.concat(idat));
	const img = Buffer.alloc(h * stride);
	for (let y = 0; y < h; y++) {
		const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
		for (let x = 0; x < stride; x++) {
			const a = x >= bpp ? img[y * stride + x - bpp] : 0;
			const b = y ? img[(y - 1) * stride + x] : 0;
			const c = x >= bpp && y ? img[(y - 1) * stride + x - bpp] : 0;
			let v = src[x];
			if (f === 1) v += a;
			else if (f === 2) v += b;
			else if (f === 3) v += (a + b) >> 1;
			else if (f === 4) {
				const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
				v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
			}
			img[y * stride + x] = v & 0xff;
		}
	}
	let ink = 0;
	for (let i = 0; i < img.length; i += bpp)
		if (img[i] !== img[0] || img[i + 1] !== img[1] || img[i + 2] !== img[2])
			ink++;
	return ink / (w * h);
}

async function flame(page, root) {
	const frames = await page.$$eval(`${root} g.f`, (gs) => gs.length);
	check(frames > 3, 'the flame graph has frames', `${frames}`);
	// a frame well inside the graph: not the root, neither tiny nor whole
	const pick = await page.$$eval(`${root} g.f`, (gs) => {
		const svg = gs[0].ownerSVGElement, full = +svg.getAttribute('data-width') - 2 * +svg.getAttribute('data-pad');
		let best = -1, bw = 0;
		gs.forEach((g, i) => {
			const w = +g.querySelector('rect').getAttribute('width');
			if (g.getAttribute('data-root') !== '1' && w > 40 && w < full * 0.8 && w > bw) {
				best = i;
				bw = w;
			}
		});
		return { best, full, name: best >= 0 ? gs[best].querySelector('title').textContent.split('\n')[0] : '' };
	});
	check(pick.best >= 0, 'a frame to click on');
	if (pick.best < 0)
		return;
	const g = page.locator(`${root} g.f`).nth(pick.best);
	await g.click();
	const after = await page.$$eval(`${root} g.f`, (gs, i) => ({
		width: +gs[i].querySelector('rect').getAttribute('width'),
		hidden: gs.filter((x) => x.style.display === 'none').length,
		reset: gs[0].ownerSVGElement.querySelector('.reset').style.display,
	}), pick.best);
	check(Math.abs(after.width - pick.full) < 0.05, `clicking ${pick.name} zooms it to the full width`,
		`width ${after.width}, full ${pick.full}`);
	check(after.hidden > 0, 'frames outside the zoomed one are hidden', `${after.hidden}`);
	check(after.reset !== 'none', 'Reset zoom is shown');
	await page.locator(`${root} .reset`).click();
	const back = await page.$$eval(`${root} g.f`, (gs) => gs.filter((x) => x.style.display === 'none').length);
	check(back === 0, 'Reset zoom shows every frame again', `${back} hidden`);
	await page.locator(`${root} input.search`).fill(term);
	const found = await page.$$eval(`${root} g.f.match`, (gs) => ({
		n: gs.length,
		fills: [...new Set(gs.map((g) => g.querySelector('rect').getAttribute('fill')))],
		text: gs.length ? gs[0].ownerSVGElement.querySelector('.matched').textContent : '',
	}));
	check(found.n > 0 && found.fills.length === 1 && found.fills[0] === 'rgb(230,0,230)',
		`searching '${term}' highlights matching frames`, JSON.stringify(found));
	check(/^Matched: [0-9.]+% \([0-9]+ frames\)$/.test(found.text), 'the share matched is shown', found.text);
	await page.locator(`${root} input.search`).fill('');
	const cleared = await page.$$eval(`${root} g.f.match`, (gs) => gs.length);
	check(cleared === 0, 'clearing the search removes the highlight', `${cleared}`);
}

async function report(page) {
	for (const id of ['summary', 'timeline', 'flame', 'functions', 'threads'])
		check(await page.locator(`#${id}`).count() === 1, `the report has its ${id} section`);
	await flame(page, '#flame');
	// sorting: the functions table by calls, both ways
	const table = page.locator('#functions table');
	const col = await table.locator('th').evaluateAll((ths) => ths.findIndex((t) => t.textContent.startsWith('calls')));
	check(col >= 0, 'the functions table has a calls column');
	const values = () => table.locator('tbody tr').evaluateAll((trs, c) =>
		trs.map((tr) => +tr.children[c].getAttribute('data-v')), col);
	await table.locator('th').nth(col).click();
	const down = await values();
	check(down.length > 1 && down.every((v, i) => !i || down[i - 1] >= v), 'a click on calls sorts largest first', down.join(' '));
	await table.locator('th').nth(col).click();
	const up = await values();
	check(up.every((v, i) => !i || up[i - 1] <= v), 'a second click sorts smallest first', up.join(' '));
	const marks = await page.locator('#timeline a.jump').count();
	check(marks > 0, 'the RSS plot marks its largest rises and falls', `${marks}`);
	if (marks) {
		const href = await page.locator('#timeline a.jump').first().getAttribute('href');
		check(/^#jump-[0-9]+$/.test(href || '') && await page.locator(href).count() === 1,
			'a mark links to its row with the event before it', href);
	}
}

const browserDir = mkdtempSync(join(tmpdir(), 'pmt-chromium-'));
let browser;
try {
	// a fresh profile, and none of Chromium's own background requests
	const context = await chromium.launchPersistentContext(browserDir, {
		executablePath: process.env.PMT_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 900 },
	});
	browser = context;
	const page = context.pages()[0] || await context.newPage();
	const errors = [];
	page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`console ${m.type()}: ${m.text()}`); });
	page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
	await page.route('**/*', (route) => {
		const url = route.request().url();
		if (url.startsWith('file:'))
			return route.continue();
		errors.push(`request outside the file: ${url}`);
		return route.abort();
	});
	await page.goto('file://' + resolve(file));
	await page.waitForLoadState('load');
	if (mode === 'flame')
		await flame(page, 'svg.pmt-flame');
	else
		await report(page);
	await page.screenshot({ path: shot, fullPage: mode !== 'flame' });
	const share = inkShare(readFileSync(shot));
	check(share > 0.02, 'the screenshot is not blank', `${(share * 100).toFixed(2)}% drawn`);
	check(errors.length === 0, 'no console error, no page error, no request outside the file', errors.join('; '));
} catch (e) {
	check(false, 'the browser ran', e.message.split('\n')[0]);
} finally {
	if (browser)
		await browser.close();
	rmSync(browserDir, { recursive: true, force: true });
}
console.log(`1..${count}`);
process.exit(failed ? 1 : 0);
