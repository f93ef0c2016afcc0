/*
 * Keyboard controls for the book's interactive plotly figures (WCAG 2.1.1).
 *
 * Plotly draws its sliders and buttons in SVG, which a keyboard cannot reach.
 * course_lib.figures.plotly_offline.figure_html puts native controls above each
 * such figure instead: <input type="range" data-slider=i>, <button data-menu=i
 * data-button=k> and <select data-menu=i>; plotly's own are kept in the layout
 * (with their steps and buttons) but not drawn, so each view has one control.
 * This script applies the step or button a control picks exactly as plotly's
 * own control would (Plotly[method](gd, ...args)), records it as the active one,
 * and writes the state of the view now shown (data-states, one text per step or
 * button) into the line under the controls, a live region, so a screen reader
 * announces it. The figure's title names the figure and does not change.
 */
(function () {
  "use strict";

  function apply(gd, item) {
    if (!item || !item.method || item.method === "skip") return Promise.resolve();
    return Plotly[item.method].apply(Plotly, [gd].concat(item.args || []));
  }

  function bind(box) {
    var gd = document.getElementById(box.dataset.figure);
    if (!gd || !gd.layout || box.dataset.bound) return false;
    box.dataset.bound = "1";
    var status = box.querySelector("[data-status]");
    var say = function (states, k) {
      if (status && states[k] !== undefined) status.textContent = states[k];
    };

    box.querySelectorAll("input[data-slider]").forEach(function (input) {
      var i = Number(input.dataset.slider);
      var labels = JSON.parse(input.dataset.labels || "[]");
      var states = JSON.parse(input.dataset.states || "[]");
      input.addEventListener("input", function () {
        var k = Number(input.value);
        input.setAttribute("aria-valuetext", labels[k] || String(k));
        var update = {};
        update["sliders[" + i + "].active"] = k;
        apply(gd, gd.layout.sliders[i].steps[k])
          .then(function () { return Plotly.relayout(gd, update); })
          .then(function () { say(states, k); });
      });
    });

    box.querySelectorAll("[data-menu]").forEach(function (control) {
      var i = Number(control.dataset.menu);
      var holder = control.tagName === "SELECT" ? control : control.closest("[data-menu-group]");
      var states = JSON.parse((holder && holder.dataset.states) || "[]");
      var pick = function (k) {
        var update = {};
        update["updatemenus[" + i + "].active"] = k;
        box.querySelectorAll('button[data-menu="' + i + '"]').forEach(function (b) {
          b.setAttribute("aria-pressed", String(Number(b.dataset.button) === k));
        });
        return apply(gd, gd.layout.updatemenus[i].buttons[k])
          .then(function () { return Plotly.relayout(gd, update); })
          .then(function () { say(states, k); });
      };
      if (control.tagName === "SELECT") {
        control.addEventListener("change", function () { pick(Number(control.value)); });
      } else {
        control.addEventListener("click", function () { pick(Number(control.dataset.button)); });
      }
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
