/* SPDX-License-Identifier: MIT */
/* pmt flame graphs: details on hover, click a frame to zoom into it, reset,
 * and a search box that highlights the frames whose function or file
 * matches. pmtFlame(svg) wires one flame graph: a standalone SVG calls it on
 * its own root, a pmt-report page on each graph it embeds. Frames are
 * <g class="f"> holding a <title> (function, file:line, figures, one per
 * line), a <rect> and a <text>; the layout numbers are on the <svg>. */
function pmtFlame(svg) {
	'use strict';
	if (svg.pmtFlameReady)
		return;
	svg.pmtFlameReady = true;
	var HIGHLIGHT = 'rgb(230,0,230)';
	var EPS = 0.01;
	var num = function (e, a) { return parseFloat(e.getAttribute(a)); };
	var pad = num(svg, 'data-pad'), full = num(svg, 'data-width') - 2 * pad;
	var cw = num(svg, 'data-cw');
	var icicle = svg.getAttribute('data-icicle') === '1';
	var details = svg.querySelector('.details');
	var reset = svg.querySelector('.reset');
	var matched = svg.querySelector('.matched');
	var search = svg.querySelector('input.search');
	var frames = [];
	var zoomed = null;

	Array.prototype.forEach.call(svg.querySelectorAll('g.f'), function (g) {
		var r = g.querySelector('rect'), lines = g.querySelector('title').textContent.split('\n');
		var f = {
			g: g, r: r, t: g.querySelector('text'),
			x: num(r, 'x'), w: num(r, 'width'), y: num(r, 'y'),
			name: lines[0], file: lines[1] || '', info: lines.slice(2).join('; '),
			fill: r.getAttribute('fill'),
		};
		frames.push(f);
		g.addEventListener('mouseover', function () {
			details.textContent = f.name + (f.file ? '  ' + f.file : '') + '  ' + f.info;
		});
		g.addEventListener('mouseout', function () { details.textContent = ' '; });
		g.addEventListener('click', function (ev) {
			ev.stopPropagation();
			zoom(f);
		});
	});

	/* a is drawn deeper in the stack than b */
	function deeper(a, b) { return icicle ? a.y > b.y + EPS : a.y < b.y - EPS; }

	function label(f, x, w) {
		var n = Math.floor((w - 6) / cw), s = '';
		if (n >= 3)
			s = f.name.length <= n ? f.name : f.name.slice(0, n - 2) + '..';
		f.t.textContent = s;
		f.t.setAttribute('x', (x + 3).toFixed(2));
	}

	function place(f, x, w) {
		f.r.setAttribute('x', x.toFixed(2));
		f.r.setAttribute('width', w.toFixed(2));
		f.g.style.display = '';
		label(f, x, w);
	}

	function zoom(z) {
		var scale = full / z.w;
		frames.forEach(function (f) {
			var inside = f.x >= z.x - EPS && f.x + f.w <= z.x + z.w + EPS;
			var holds = f.x <= z.x + EPS && f.x + f.w >= z.x + z.w - EPS;
			if (f === z || (holds && deeper(z, f))) {
				place(f, pad, full);
				f.g.classList.toggle('parent', f !== z);
			} else if (inside && deeper(f, z)) {
				place(f, pad + (f.x - z.x) * scale, f.w * scale);
				f.g.classList.remove('parent');
			} else {
				f.g.style.display = 'none';
			}
		});
		zoomed = z;
		svg.classList.add('zoomed');
		reset.style.display = '';
	}

	function unzoom() {
		frames.forEach(function (f) {
			place(f, f.x, f.w);
			f.g.classList.remove('parent');
		});
		zoomed = null;
		svg.classList.remove('zoomed');
		reset.style.display = 'none';
	}

	function find(term) {
		var re = null, spans = [];
		if (term) {
			try {
				re = new RegExp(term, 'i');
			} catch (e) {
				re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
			}
		}
		frames.forEach(function (f) {
			var hit = !!re && f.g.getAttribute('data-root') !== '1' &&
				(re.test(f.name) || re.test(f.file));
			f.g.classList.toggle('match', hit);
			f.r.setAttribute('fill', hit ? HIGHLIGHT : f.fill);
			if (hit)
				spans.push([f.x, f.x + f.w]);
		});
		/* a match inside another one counts once */
		spans.sort(function (a, b) { return a[0] - b[0]; });
		var sum = 0, end = -Infinity;
		spans.forEach(function (s) {
			if (s[0] >= end) {
				sum += s[1] - s[0];
				end = s[1];
			} else if (s[1] > end) {
				sum += s[1] - end;
				end = s[1];
			}
		});
		matched.textContent = re ? 'Matched: ' + (100 * sum / full).toFixed(1) + '% (' +
			spans.length + ' frames)' : '';
	}

	reset.addEventListener('click', unzoom);
	if (search) {
		search.addEventListener('input', function () { find(search.value); });
		search.addEventListener('keydown', function (ev) {
			if (ev.key === 'Escape') {
				search.value = '';
				find('');
			}
		});
	}
	svg.addEventListener('keydown', function (ev) {
		if (ev.key === 'Escape' && zoomed)
			unzoom();
	});
	reset.style.display = 'none';
}
