// Live demos, on pages served by `make present` only (handson/present.py sets window.handsonLive).
// Slideshow: R runs the current slide's demos with their knob values, K opens the knobs, X goes
// back to the recorded outputs. Reader page: a Run button (and Knobs) under each demo's figure.
// A run streams its events; when it is done the slide's images of that demo and its bound
// numbers ({{ demo.key:fmt }} spans, formatted by the server as the build does) are swapped for
// the live ones, with a badge "live · device · seconds".
(function () {
  "use strict";
  var live = window.handsonLive;
  if (!live || !live.demos) return;
  var demos = live.demos;
  var chosen = {};   // demo -> {knob: value} set by the speaker
  var running = {};  // demo -> true while a run of it streams
  var isSlideshow = !!document.querySelector(".reveal .slides");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function runnable(name) { return demos[name] && !demos[name].error; }

  function marker(name) { return "_generated/" + demos[name].deck + "/" + name + "/"; }

  function allSections() { return Array.prototype.slice.call(document.querySelectorAll("section[data-demos]")); }

  function listed(section) { return (section.getAttribute("data-demos") || "").split(/\s+/).filter(Boolean); }

  // The demos whose outputs (a figure or a bound number) this section shows.
  function shownIn(section) {
    return listed(section).filter(function (name) {
      if (!runnable(name)) return false;
      var images = Array.prototype.some.call(section.querySelectorAll("img"), function (img) {
        return recordedSource(img).indexOf(marker(name)) >= 0;
      });
      return images || !!section.querySelector('span.result[data-result^="' + name + '."]');
    });
  }

  function sectionsShowing(name) {
    return allSections().filter(function (s) { return shownIn(s).indexOf(name) >= 0; });
  }

  function recordedSource(img) {
    if (img.dataset.recordedSrc !== undefined) return img.dataset.recordedSrc;
    return img.getAttribute("src") || img.getAttribute("data-src") || "";
  }

  // ------------------------------------------------------------ messages

  var bar = el("div", "live-progress");
  var toastBox = el("div", "live-toast");
  document.body.appendChild(bar);
  document.body.appendChild(toastBox);
  var toastTimer = 0;

  function toast(text, isError) {
    toastBox.textContent = text;
    toastBox.classList.toggle("live-error", !!isError);
    toastBox.classList.add("live-shown");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toastBox.classList.remove("live-shown"); }, isError ? 8000 : 3000);
  }

  function progressRow(name) {
    var row = bar.querySelector('[data-demo="' + name + '"]');
    if (!row) {
      row = el("div", "live-row live-indeterminate");
      row.dataset.demo = name;
      row.appendChild(el("span", "live-label", name + ": starting"));
      var track = el("div", "live-track");
      track.appendChild(el("div", "live-fill"));
      row.appendChild(track);
      bar.appendChild(row);
    }
    return row;
  }

  function number(value) {
    if (typeof value !== "number") return String(value);
    return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(2) : String(+value.toPrecision(3));
  }

  function showProgress(name, event) {
    var row = progressRow(name);
    var label = row.querySelector(".live-label");
    if (event.event === "queued") label.textContent = name + ": waiting for a worker";
    if (event.event === "start") label.textContent = name + ": running";
    if (event.event === "progress") {
      var f = event.fields || {};
      var parts = [name];
      if (event.fit > 1) parts.push("fit " + event.fit);
      if (f.epoch !== undefined) parts.push("epoch " + f.epoch + (f.epochs ? "/" + f.epochs : ""));
      if (f.train_loss !== undefined && f.train_loss !== null) parts.push("loss " + number(f.train_loss));
      if (f.val_loss !== undefined && f.val_loss !== null) parts.push("val " + number(f.val_loss));
      label.textContent = parts.join(" · ");
      if (f.epoch && f.epochs) {
        row.classList.remove("live-indeterminate");
        row.querySelector(".live-fill").style.width = (100 * f.epoch / f.epochs).toFixed(1) + "%";
      }
      row.dataset.epoch = f.epoch;
    }
  }

  // ------------------------------------------------------------ running

  function formatsOf(name) {
    var seen = {}, out = [];
    sectionsShowing(name).forEach(function (section) {
      section.querySelectorAll('span.result[data-result^="' + name + '."]').forEach(function (span) {
        var pair = [span.dataset.result, span.dataset.format || ""];
        if (!seen[pair.join("|")]) { seen[pair.join("|")] = true; out.push(pair); }
      });
    });
    return out;
  }

  function run(name) {
    if (running[name]) { toast(name + " is running already"); return Promise.resolve(); }
    running[name] = true;
    progressRow(name);
    var body = JSON.stringify({ demo: name, knobs: chosen[name] || {}, formats: formatsOf(name) });
    return fetch(live.api + "run", { method: "POST", headers: { "Content-Type": "application/json" }, body: body })
      .then(function (response) {
        if (!response.ok) {
          return response.json().catch(function () { return { error: response.statusText }; })
            .then(function (answer) { toast(name + ": " + answer.error, true); });
        }
        return readEvents(response, function (event) { handle(name, event); });
      })
      .catch(function (error) { toast(name + ": " + error.message + " (recorded output kept)", true); })
      .then(function () {
        running[name] = false;
        var row = bar.querySelector('[data-demo="' + name + '"]');
        if (row) row.remove();
      });
  }

  function readEvents(response, callback) {
    var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var lines = buffer.split("\n");
        buffer = lines.pop();
        lines.forEach(function (line) { if (line.trim()) callback(JSON.parse(line)); });
        return pump();
      });
    }
    return pump();
  }

  function handle(name, event) {
    if (event.event === "done") swap(name, event);
    else if (event.event === "failed") {
      toast(name + " failed live: " + event.reason + " (recorded output kept)", true);
      if (event.details) toastBox.title = event.details;
    } else showProgress(name, event);
  }

  // ------------------------------------------------------------ swapping and reverting

  function swap(name, event) {
    var prefix = marker(name);
    sectionsShowing(name).forEach(function (section) {
      section.querySelectorAll("img").forEach(function (img) {
        var source = recordedSource(img), at = source.indexOf(prefix);
        if (at < 0) return;
        var url = event.outputs[source.slice(at + prefix.length).split(/[?#]/)[0]];
        if (!url) return;
        if (img.dataset.recordedSrc === undefined) {
          img.dataset.recordedSrc = source;
          img.dataset.recordedTitle = img.getAttribute("title") || "";
        }
        if (img.hasAttribute("data-src")) img.setAttribute("data-src", url);
        img.setAttribute("src", url);
        img.title = name + ": live run " + event.run + " on " + event.device + ", " + event.duration_s.toFixed(1) + " s";
        img.classList.add("live-output");
      });
      section.querySelectorAll('span.result[data-result^="' + name + '."]').forEach(function (span) {
        var key = span.dataset.result + "|" + (span.dataset.format || "");
        if (!(key in event.values)) return;
        if (span.dataset.recorded === undefined) span.dataset.recorded = span.textContent;
        span.textContent = event.values[key];
        span.classList.add("live-value");
      });
      badge(section, name, event);
    });
    toast(name + ": live outputs shown (" + event.seconds.toFixed(1) + " s)");
  }

  function revert(name) {
    sectionsShowing(name).forEach(function (section) {
      var prefix = marker(name);
      section.querySelectorAll("img.live-output").forEach(function (img) {
        var source = img.dataset.recordedSrc;
        if (source === undefined || source.indexOf(prefix) < 0) return;
        if (img.hasAttribute("data-src")) img.setAttribute("data-src", source);
        img.setAttribute("src", source);
        if (img.dataset.recordedTitle) img.title = img.dataset.recordedTitle;
        else img.removeAttribute("title");
        img.classList.remove("live-output");
        delete img.dataset.recordedSrc;
        delete img.dataset.recordedTitle;
      });
      section.querySelectorAll('span.result.live-value[data-result^="' + name + '."]').forEach(function (span) {
        span.textContent = span.dataset.recorded;
        span.classList.remove("live-value");
        delete span.dataset.recorded;
      });
      section.querySelectorAll('.live-badge[data-demo="' + name + '"]').forEach(function (b) { b.remove(); });
      var controls = section.querySelector('.live-controls[data-demo="' + name + '"]');
      if (controls) controls.querySelector(".live-revert").hidden = true;
    });
  }

  function knobSummary(name) {
    var knobs = demos[name].knobs, values = chosen[name] || {};
    return Object.keys(knobs).filter(function (k) {  // in the demo's order
      return k in values && JSON.stringify(values[k]) !== JSON.stringify(knobs[k]["default"]);
    }).map(function (k) { return knobs[k].label + " " + (typeof values[k] === "number" ? number(values[k]) : JSON.stringify(values[k])); });
  }

  function badge(section, name, event) {
    section.querySelectorAll('.live-badge[data-demo="' + name + '"]').forEach(function (b) { b.remove(); });
    var text = ["live", event.device, event.duration_s.toFixed(1) + " s"].concat(knobSummary(name)).join(" · ");
    var node = el("button", "live-badge", text);
    node.type = "button";
    node.dataset.demo = name;
    node.title = name + ": live run " + event.run + ". Click (or X) for the recorded output.";
    node.addEventListener("click", function () { revert(name); });
    var controls = section.querySelector('.live-controls[data-demo="' + name + '"]');
    if (controls) {
      controls.appendChild(node);
      controls.querySelector(".live-revert").hidden = false;
    } else {
      (section.querySelector(".slide-body") || section).appendChild(node);
    }
  }

  // ------------------------------------------------------------ knobs

  function knobPanel(names, onRun) {
    var panel = el("form", "live-panel");
    panel.noValidate = true;
    names.forEach(function (name) {
      var knobs = demos[name].knobs, keys = Object.keys(knobs);
      var group = el("fieldset", "live-knobs");
      group.appendChild(el("legend", "", name));
      if (!keys.length) group.appendChild(el("p", "live-none", "no knobs: R reruns it as recorded"));
      keys.forEach(function (key) {
        var knob = knobs[key], current = (chosen[name] || {})[key];
        if (current === undefined) current = knob["default"];
        var row = el("label", "live-knob");
        row.appendChild(el("span", "live-knob-name", knob.label));
        var input;
        if (knob.type === "choice") {
          input = el("select");
          knob.values.forEach(function (value, i) {
            var option = el("option", "", Array.isArray(value) ? value.join(", ") : String(value));
            option.value = String(i);
            option.selected = JSON.stringify(value) === JSON.stringify(current);
            input.appendChild(option);
          });
        } else {
          input = el("input");
          input.type = "number";
          input.min = knob.min;
          input.max = knob.max;
          input.step = knob.type === "int" ? "1" : "any";
          input.value = String(current);
        }
        input.name = name + "." + key;
        input.dataset.demo = name;
        input.dataset.knob = key;
        input.addEventListener("input", function () { read(input); });
        input.addEventListener("change", function () { read(input); });
        row.appendChild(input);
        if (knob.log) {
          [["÷10", 0.1], ["×10", 10]].forEach(function (pair) {
            var button = el("button", "live-step", pair[0]);
            button.type = "button";
            button.addEventListener("click", function () {
              var value = parseFloat(input.value) * pair[1];
              input.value = String(+Math.min(knob.max, Math.max(knob.min, value)).toPrecision(6));
              read(input);
            });
            row.appendChild(button);
          });
        }
        var range = knob.type === "choice" ? "" : knob.min + " … " + knob.max + (knob.log ? " (log)" : "");
        row.appendChild(el("small", "live-range", range));
        group.appendChild(row);
      });
      panel.appendChild(group);
    });
    var actions = el("div", "live-actions");
    var runButton = el("button", "live-run", "Run" + (isSlideshow ? " (Enter)" : ""));
    runButton.type = "submit";
    var reset = el("button", "live-reset", "Defaults");
    reset.type = "button";
    reset.addEventListener("click", function () {
      names.forEach(function (name) { delete chosen[name]; });
      var fresh = knobPanel(names, onRun);
      panel.replaceWith(fresh);
      if (isSlideshow) fresh.classList.add("live-open");
    });
    actions.appendChild(runButton);
    actions.appendChild(reset);
    panel.appendChild(actions);
    panel.addEventListener("submit", function (e) {
      e.preventDefault();
      if (panel.querySelector(".live-invalid")) { toast("a knob is out of range", true); return; }
      onRun(panel);
    });
    return panel;
  }

  // Store the input's value if it is allowed; mark it otherwise.
  function read(input) {
    var name = input.dataset.demo, key = input.dataset.knob, knob = demos[name].knobs[key], value;
    if (knob.type === "choice") value = knob.values[parseInt(input.value, 10)];
    else {
      value = Number(input.value);
      var ok = input.value.trim() !== "" && isFinite(value) && value >= knob.min && value <= knob.max &&
        (knob.type !== "int" || Number.isInteger(value));
      input.classList.toggle("live-invalid", !ok);
      input.title = ok ? "" : "allowed: " + knob.min + " to " + knob.max + (knob.type === "int" ? ", whole numbers" : "");
      if (!ok) return;
    }
    (chosen[name] = chosen[name] || {})[key] = value;
  }

  // ------------------------------------------------------------ slideshow

  // Reveal's speaker view shows the current slide in an iframe of this page (?receiver) and
  // sends it the speaker's keys: there R and X act on the presentation window (the speaker
  // view's opener), and the knobs set there are the presentation's.
  function presentationWindow() {
    if (!/[?&]receiver/.test(window.location.search)) return null;
    try {
      var opener = window.parent.opener;
      return opener && opener.handsonLive && opener.handsonLive.control || null;
    } catch (e) {
      return null;
    }
  }

  function startSlideshow() {
    var presentation = presentationWindow();
    var hint = el("div", "live-hint", "live: R run · K knobs · X recorded");
    if (!presentation) document.body.appendChild(hint);
    var panel = null;
    if (presentation) chosen = presentation.chosen;

    function current() { return shownIn(Reveal.getCurrentSlide() || document.body); }
    function runSlide() {
      if (presentation) presentation.runSlide();
      else current().forEach(run);
    }
    function revertSlide() {
      if (presentation) presentation.revertSlide();
      else current().forEach(revert);
    }
    function closePanel() { if (panel) { panel.remove(); panel = null; } }
    function togglePanel() {
      if (panel) { closePanel(); return; }
      var names = current();
      if (!names.length) { toast("no live demo on this slide"); return; }
      panel = knobPanel(names, function () { closePanel(); runSlide(); });
      panel.classList.add("live-open");
      panel.addEventListener("keydown", function (e) {
        if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); closePanel(); }
      });
      document.body.appendChild(panel);
      var first = panel.querySelector("input, select");
      if (first) first.focus();
    }
    function update() {
      hint.classList.toggle("live-shown", current().length > 0);
      closePanel();
    }
    Reveal.addKeyBinding({ keyCode: 82, key: "R", description: "Run this slide's demo live" }, runSlide);
    Reveal.addKeyBinding({ keyCode: 75, key: "K", description: "Knobs of this slide's demo" }, togglePanel);
    Reveal.addKeyBinding({ keyCode: 88, key: "X", description: "Back to the recorded output" }, revertSlide);
    Reveal.on("slidechanged", update);
    update();
    live.control = { chosen: chosen, runSlide: runSlide, revertSlide: revertSlide };
    document.documentElement.dataset.live = "ready";
  }

  // ------------------------------------------------------------ reader page

  function startReader() {
    allSections().forEach(function (section) {
      shownIn(section).forEach(function (name) {
        var controls = el("div", "live-controls");
        controls.dataset.demo = name;
        var runButton = el("button", "live-run-button", "▶ Run " + name);
        runButton.type = "button";
        runButton.title = "Run " + name + " now, on this machine, with the knob values below";
        runButton.addEventListener("click", function () { run(name); });
        controls.appendChild(runButton);
        if (Object.keys(demos[name].knobs).length) {
          var knobsButton = el("button", "live-knobs-button", "Knobs");
          knobsButton.type = "button";
          knobsButton.addEventListener("click", function () {
            var open = controls.querySelector(".live-panel");
            if (open) { open.remove(); return; }
            controls.appendChild(knobPanel([name], function () { run(name); }));
          });
          controls.appendChild(knobsButton);
        }
        var back = el("button", "live-revert", "Recorded");
        back.type = "button";
        back.hidden = true;
        back.addEventListener("click", function () { revert(name); });
        controls.appendChild(back);
        var after = section.querySelector("p.provenance");
        if (!after) {
          var images = Array.prototype.filter.call(section.querySelectorAll("img"), function (img) {
            return recordedSource(img).indexOf(marker(name)) >= 0;
          });
          after = images.length ? images[images.length - 1].closest("p, figure") || images[images.length - 1] : null;
        }
        if (after) after.after(controls);
        else section.insertBefore(controls, section.querySelector(":scope > aside.notes"));
      });
    });
    document.documentElement.dataset.live = "ready";
  }

  if (isSlideshow && window.Reveal) {
    if (Reveal.isReady()) startSlideshow();
    else Reveal.on("ready", startSlideshow);
  } else {
    startReader();
  }
})();
