/* SPDX-License-Identifier: MIT */
/* pmt-report's page: every table sorts by a click on a column header (by the
 * exact value in data-v where a cell has one, else by its text; a second
 * click reverses), and each flame graph on the page is made interactive. */
(function () {
	'use strict';
	function key(td) {
		var v = td.getAttribute('data-v');
		return v !== null && v !== '' ? parseFloat(v) : td.textContent;
	}
	function sortable(table) {
		var ths = table.querySelectorAll('thead th');
		Array.prototype.forEach.call(ths, function (th, col) {
			th.classList.add('sortable');
			th.addEventListener('click', function () {
				var body = table.tBodies[0];
				/* numbers start largest first, text from a to z */
				var first = body.rows.length && typeof key(body.rows[0].cells[col] || th) === 'number';
				var down = th.getAttribute('aria-sort') ? th.getAttribute('aria-sort') === 'ascending'
					: first;
				Array.prototype.forEach.call(ths, function (h) { h.removeAttribute('aria-sort'); });
				th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
				var rows = Array.prototype.slice.call(body.rows);
				rows.sort(function (a, b) {
					var x = key(a.cells[col]), y = key(b.cells[col]);
					var c = typeof x === 'number' && typeof y === 'number' ? x - y
						: String(x).localeCompare(String(y));
					return down ? -c : c;
				});
				rows.forEach(function (r) { body.appendChild(r); });
			});
		});
	}
	Array.prototype.forEach.call(document.querySelectorAll('table.pmt-table'), sortable);
	Array.prototype.forEach.call(document.querySelectorAll('svg.pmt-flame'), pmtFlame);
})();
