/*
 * Keyboard controls for the book's interactive plotly figures (WCAG 2.1.1).
 *
 * Plotly draws its sliders and buttons in SVG, which a keyboard cannot reach.
 * course_lib.plotly_offline.figure_html puts native controls above each such
 * figure: <input type="range" data-slider=i>, <button data-menu=i data-button=k>
 * and <select data-menu=i>. This script applies the step or button a control
 * picks exactly as plotly's own control would (Plotly[method](gd, ...args)),
 * keeps both in step (a drag on plotly's slider moves the range input too),
 * and writes the view's title into the live region, so a screen reader
 * announces what the figure shows now.
 */
(function () {
  "use strict";

  function plain(html) {
    var box = document.createElement("div");
    box.innerHTML = String(html || "").replace(/<br\s*\/?>/gi, " ");
    return (box.textContent || "").replace(/\s+/g, " ").trim();
  }

  function apply(gd, item) {
    if (!item || !item.method || item.method === "skip") return Promise.resolve();
    return Plotly[item.method].apply(Plotly, [gd].concat(item.args || []));
  }

  function title(gd) {
    var t = gd.layout && gd.layout.title;
    return plain(t && (t.text !== undefined ? t.text : t));
  }

  function bind(box) {
    var gd = document.getElementById(box.dataset.figure);
    if (!gd || !gd.layout || box.dataset.bound) return false;
    box.dataset.bound = "1";
    var status = box.querySelector("[data-status]");
    var announce = function () { if (status) status.textContent = title(gd); };

    box.querySelectorAll("input[data-slider]").forEach(function (input) {
      var i = Number(input.dataset.slider);
      var labels = JSON.parse(input.dataset.labels || "[]");
      var show = function (k) {
        input.value = k;
        input.setAttribute("aria-valuetext", labels[k] || String(k));
        var value = input.parentNode.querySelector(".course-figure-value");
        if (value) value.textContent = labels[k] || String(k);
      };
      input.addEventListener("input", function () {
        var k = Number(input.value);
        show(k);
        var update = {};
        update["sliders[" + i + "].active"] = k;
        apply(gd, gd.layout.sliders[i].steps[k])
          .then(function () { return Plotly.relayout(gd, update); })
          .then(announce);
      });
      gd.on("plotly_sliderchange", function (e) {
        if (e.slider && e.slider._index === i) {
          show(e.step._index);
          setTimeout(announce, 0);
        }
      });
    });

    box.querySelectorAll("[data-menu]").forEach(function (control) {
      var i = Number(control.dataset.menu);
      var pick = function (k) {
        var update = {};
        update["updatemenus[" + i + "].active"] = k;
        box.querySelectorAll('button[data-menu="' + i + '"]').forEach(function (b) {
          b.setAttribute("aria-pressed", String(Number(b.dataset.button) === k));
        });
        return apply(gd, gd.layout.updatemenus[i].buttons[k])
          .then(function () { return Plotly.relayout(gd, update); })
          .then(announce);
      };
      if (control.tagName === "SELECT") {
        control.addEventListener("change", function () { pick(Number(control.value)); });
      } else {
        control.addEventListener("click", function () { pick(Number(control.dataset.button)); });
      }
    });
    gd.on("plotly_buttonclicked", function (e) {
      var i = e.menu._index, k = e.active;
      box.querySelectorAll('button[data-menu="' + i + '"]').forEach(function (b) {
        b.setAttribute("aria-pressed", String(Number(b.dataset.button) === k));
      });
      var select = box.querySelector('select[data-menu="' + i + '"]');
      if (select) select.value = String(k);
      setTimeout(announce, 0);
    });
    return true;
  }

  function bindAll(tries) {
    var pending = 0;
    document.querySelectorAll(".course-figure-controls").forEach(function (box) {
      if (!box.dataset.bound && !bind(box)) pending += 1;
    });
    if (pending && tries > 0) setTimeout(function () { bindAll(tries - 1); }, 100);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { bindAll(300); });
  } else {
    bindAll(300);
  }
})();
