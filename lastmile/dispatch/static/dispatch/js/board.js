/* The dispatch board: draws the plan from /dispatch/board/data/ and calls the board's
 * endpoints. No rules live here: the server says what each button may do and why it refused.
 * Everything is drawn on one canvas (L.canvas) and added to the map in one go, so a plan with
 * a thousand stops stays responsive. Text from the database goes in with textContent only:
 * tooltips and popups get DOM nodes, never strings, since Leaflet renders a string as HTML. */
(function () {
  "use strict";

  var POLL_MS = 1000;

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "className") { node.className = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function km(m) { return m === null || m === undefined ? "—" : (m / 1000).toFixed(1) + " km"; }
  function hm(s) {
    if (s === null || s === undefined) { return "—"; }
    var minutes = Math.round(s / 60);
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }
  function kwh(wh) { return !wh ? "—" : (wh / 1000).toFixed(1) + " kWh"; }
  function kg(g) { return (g / 1000).toFixed(1) + " kg"; }

  // A circle marker with its number drawn on the same canvas: no DOM node per stop.
  var NumberedMarker = L.CircleMarker.extend({
    _updatePath: function () {
      L.CircleMarker.prototype._updatePath.call(this);
      var renderer = this._renderer, ctx = renderer && renderer._ctx;
      if (!ctx || this._empty() || !this.options.label) { return; }
      var p = this._point;
      ctx.save();
      ctx.fillStyle = "#ffffff";
      ctx.font = "bold " + (this.options.label.length > 2 ? 8 : 10) + "px sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(this.options.label, p.x, p.y + 0.5);
      ctx.restore();
    }
  });

  // A stop's popup: the order, who gets it and where, and when the route is there.
  function stopPopup(route, s) {
    var box = el("div", { className: "lm-stop-popup" });
    box.appendChild(el("b", {}, "Order " + s[5]));
    if (s[8]) { box.appendChild(el("div", { className: "lm-stop-recipient" }, s[8])); }
    if (s[9]) { box.appendChild(el("div", { className: "lm-stop-address" }, s[9])); }
    box.appendChild(el("div", {}, route.vehicle + " #" + s[1] + " · arrives " + s[6] +
      (s[7] ? " · window " + s[7] : "")));
    return box;
  }

  function Board(cfg) {
    this.cfg = cfg;
    this.data = null;
    this.selected = null; // {stop, route}
    this.markers = {}; // stop id -> marker, for highlighting a selection
    this.layer = null;
    this.fitted = false;
    this.pollTimer = null;
    this.csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
    this.mapEl = $("board-map");
    this.map = L.map(this.mapEl, { preferCanvas: true }).setView([cfg.hub.lat, cfg.hub.lng], 12);
    L.tileLayer(cfg.tiles_url, { attribution: cfg.attribution, maxZoom: 19 }).addTo(this.map);
    this.renderer = L.canvas({ padding: 0.5, tolerance: 3 });
    this.bind();
    this.load();
  }

  Board.prototype.url = function (name, id) {
    var url = this.cfg.urls[name];
    return id === undefined ? url : url.replace("/0/", "/" + id + "/");
  };

  // --- Talking to the server -------------------------------------------------------------

  Board.prototype.request = function (method, url, form) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method === "POST") {
      options.headers["X-CSRFToken"] = this.csrf;
      options.body = new URLSearchParams(form || {});
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (ignored) { body = null; }
        if (response.ok && body) { return body; }
        var message;
        if (body && (body.detail || body.title)) {
          message = body.detail || body.title;
        } else {
          message = "The server answered " + response.status + " " + (response.statusText || "") +
            (response.status >= 500 ? "; please try again or tell the back-office team." : ".");
        }
        var error = new Error(message);
        error.status = response.status;
        error.code = body && body.code;
        throw error;
      });
    }, function (failure) {
      throw new Error("Could not reach the server (" + failure.message + ").");
    });
  };

  Board.prototype.say = function (text, kind) {
    var box = $("board-message");
    box.textContent = text;
    box.className = "lm-board-message " + (kind === "ok" ? "is-ok" : "is-error");
    box.hidden = !text;
  };

  Board.prototype.fail = function (error) { this.say(error.message || String(error), "error"); };

  Board.prototype.load = function () {
    var self = this;
    var query = "?hub=" + encodeURIComponent(this.cfg.hub.code) + "&date=" + encodeURIComponent(this.cfg.date);
    return this.request("GET", this.url("data") + query).then(function (data) {
      self.data = data;
      self.draw(data);
      self.sidebar(data);
      if (data.run && !self.pollTimer) { self.watch(data.run); }
      return data;
    }).catch(function (error) { self.fail(error); });
  };

  // --- Buttons ---------------------------------------------------------------------------

  Board.prototype.bind = function () {
    var self = this;
    $("btn-plan").addEventListener("click", function () {
      self.say("", "ok");
      self.showProgress({ phase_label: "Requesting a planning run", pct: 0 });
      self.busy(true);
      self.request("POST", self.url("plan"), { hub: self.cfg.hub.code, date: self.cfg.date })
        .then(function (body) { self.watch(body.plan); })
        .catch(function (error) { self.fail(error); $("board-progress-box").hidden = true; })
        .then(function () { self.busy(false); });
    });
    $("btn-cancel").addEventListener("click", function () {
      var run = self.data && self.data.run;
      if (!run) { return; }
      self.busy(true);
      self.request("POST", self.url("cancel", run.id))
        .then(function (body) { self.showProgress(body.plan); self.say("Planning run cancelled.", "ok"); })
        .catch(function (error) { self.fail(error); })
        .then(function () { self.busy(false); self.load(); });
    });
    $("btn-publish").addEventListener("click", function () {
      var plan = self.data && self.data.plan;
      if (!plan) { return; }
      self.busy(true);
      self.request("POST", self.url("publish", plan.id))
        .then(function () { self.say("Plan published: orders planned, drivers assigned where available.", "ok"); })
        .catch(function (error) { self.fail(error); })
        .then(function () { self.busy(false); self.load(); });
    });
    $("btn-replan").addEventListener("click", function () {
      var plan = self.data && self.data.plan;
      if (!plan) { return; }
      self.busy(true);
      self.request("POST", self.url("replan", plan.id))
        .then(function (body) {
          var r = body.replan;
          self.say(r.status === "applied"
            ? "Re-planned: " + r.added.length + " added, " + r.moved.length + " moved, " + r.dropped.length + " dropped."
            : "Re-plan " + r.status_label.toLowerCase() + "; the routes change when it is applied.", "ok");
        })
        .catch(function (error) { self.fail(error); })
        .then(function () { self.busy(false); self.load(); });
    });
    $("btn-move").addEventListener("click", function () { self.move(); });
    $("move-target").addEventListener("change", function () {
      $("btn-move").disabled = !(self.selected && this.value);
    });
  };

  Board.prototype.busy = function (on) {
    ["btn-plan", "btn-cancel", "btn-publish", "btn-replan", "btn-move"].forEach(function (id) {
      $(id).dataset.busy = on ? "1" : "";
      if (id !== "btn-move") { $(id).disabled = on; }
    });
    if (on) { $("btn-move").disabled = true; }
  };

  Board.prototype.showProgress = function (p) {
    $("board-progress-box").hidden = false;
    $("board-progress").value = p.pct || 0;
    $("board-progress-label").textContent = (p.phase_label || "") + " · " + (p.pct || 0) + " %";
  };

  // Follow a run until it ends; the answer to "Plan" may already be the finished run.
  Board.prototype.watch = function (plan) {
    var self = this;
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.showProgress(plan);
    $("btn-cancel").hidden = !(plan.active && this.cfg.perms.cancel);
    $("btn-plan").hidden = plan.active || !this.cfg.perms.plan;
    if (plan.active) {
      this.pollTimer = setTimeout(function () {
        self.request("GET", self.url("progress", plan.id))
          .then(function (body) { self.pollTimer = null; self.watch(body.plan); })
          .catch(function (error) {
            self.fail(error);
            self.pollTimer = setTimeout(function () { self.pollTimer = null; self.watch(plan); }, POLL_MS);
          });
      }, POLL_MS);
      return;
    }
    if (plan.status === "failed") {
      this.say("Planning failed: " + (plan.error || "no reason recorded."), "error");
    } else if (plan.status === "cancelled") {
      this.say("The planning run was cancelled.", "ok");
    } else if (plan.status === "ready") {
      this.say("Routes ready: check them, move stops if needed, then publish.", "ok");
    }
    this.load();
  };

  Board.prototype.move = function () {
    var self = this, chosen = this.selected, target = $("move-target").value;
    if (!chosen || !target) { return; }
    this.busy(true);
    this.say("Re-planning both routes…", "ok");
    this.request("POST", this.url("move", chosen.stop[0]), { target: target })
      .then(function () {
        var to = self.routeById(Number(target));
        self.say("Order " + chosen.stop[5] + " moved to " + (to ? to.vehicle : "the route") +
          "; both routes re-sequenced.", "ok");
        self.selected = null;
        return self.load();
      })
      .catch(function (error) { self.fail(error); })
      .then(function () { self.busy(false); self.moveBox(); });
  };

  // --- Map -------------------------------------------------------------------------------

  Board.prototype.routeById = function (id) {
    var routes = (this.data && this.data.routes) || [];
    for (var i = 0; i < routes.length; i++) { if (routes[i].id === id) { return routes[i]; } }
    return null;
  };

  Board.prototype.draw = function (data) {
    var self = this, renderer = this.renderer, group = L.featureGroup(), bounds = [];
    var hub = [data.hub.lat, data.hub.lng];
    this.markers = {};
    var stopCount = 0;
    data.routes.forEach(function (route) {
      var line = [hub];
      route.stops.forEach(function (s) { line.push([s[2], s[3]]); });
      line.push(hub);
      L.polyline(line, { renderer: renderer, color: route.colour, weight: 3, opacity: 0.8, interactive: false })
        .addTo(group);
      route.stops.forEach(function (s) {
        bounds.push([s[2], s[3]]);
        if (s[4] === "reload" || s[4] === "break") { return; }
        stopCount += 1;
        var marker = new NumberedMarker([s[2], s[3]], {
          renderer: renderer, radius: 9, color: "#ffffff", weight: 1.5,
          fillColor: route.colour, fillOpacity: 1, label: String(s[1])
        });
        marker.bindTooltip(function () {
          return el("span", {}, route.vehicle + " #" + s[1] + " · " + s[5] + " · " + s[6] +
            (s[7] ? " (window " + s[7] + ")" : ""));
        });
        marker.bindPopup(function () { return stopPopup(route, s); });
        marker.on("click", function () { self.select(route, s); });
        marker.addTo(group);
        self.markers[s[0]] = marker;
      });
    });
    data.unassigned.forEach(function (u) {
      bounds.push([u[2], u[3]]);
      L.circleMarker([u[2], u[3]], {
        renderer: renderer, radius: 7, color: "#c62828", weight: 3, fillColor: "#ffffff", fillOpacity: 1
      }).bindPopup(function () {
        var box = el("div", { className: "lm-unassigned-popup" });
        box.appendChild(el("b", {}, "Unassigned: " + u[1]));
        box.appendChild(el("div", {}, data.reasons[u[4]] || u[4]));
        box.appendChild(el("div", {}, u[5]));
        if (u[6]) { box.appendChild(el("div", {}, "Fix: " + u[6])); }
        return box;
      }).bindTooltip(function () { return el("span", {}, "Unassigned " + u[1] + ": " + (data.reasons[u[4]] || u[4])); })
        .addTo(group);
    });
    data.vehicles.forEach(function (v) {
      L.circleMarker([v[1], v[2]], {
        renderer: renderer, radius: 6, color: "#ffffff", weight: 2, fillColor: "#111111", fillOpacity: 1
      }).bindTooltip(function () {
        return el("span", {}, v[0] + (v[4] === null ? "" : " · " + Math.round(v[4]) + " %") +
          (v[3] ? " · seen " + new Date(v[3]).toLocaleTimeString() : ""));
      }).addTo(group);
    });
    L.circleMarker(hub, {
      renderer: renderer, radius: 11, color: "#ffffff", weight: 3, fillColor: "#212121", fillOpacity: 1
    }).bindTooltip(el("span", {}, "Hub " + data.hub.code)).addTo(group);

    if (this.layer) { this.map.removeLayer(this.layer); }
    this.layer = group.addTo(this.map); // one add: the canvas redraws once
    if (!this.fitted && bounds.length) {
      bounds.push(hub);
      this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
      this.fitted = true;
    }
    this.mapEl.dataset.routeCount = String(data.routes.length);
    this.mapEl.dataset.stopCount = String(stopCount);
    this.mapEl.dataset.unassignedCount = String(data.unassigned.length);
    this.mapEl.dataset.vehicleCount = String(data.vehicles.length);
    this.mapEl.dataset.drawn = String(Number(this.mapEl.dataset.drawn || 0) + 1);
  };

  // --- Sidebar ---------------------------------------------------------------------------

  Board.prototype.sidebar = function (data) {
    var plan = data.plan, perms = this.cfg.perms;
    $("btn-plan").hidden = !perms.plan || Boolean(data.run);
    $("btn-cancel").hidden = !perms.cancel || !data.run;
    $("btn-publish").hidden = !(perms.publish && plan && plan.can_publish);
    $("btn-replan").hidden = !(perms.replan && plan && plan.can_replan);

    var box = $("board-plan");
    box.textContent = "";
    if (!plan) {
      box.appendChild(el("p", {}, "No plan for " + data.hub.code + " on " + data.date + " yet. Press Plan to make one."));
    } else {
      box.appendChild(el("h3", {}, "Plan " + plan.id + " · " + plan.status_label));
      var dl = el("dl", { id: "board-plan-figures" });
      var rows = [
        ["Routes", data.routes.length + (plan.vehicles_available !== null ? " of " + plan.vehicles_available + " vehicles" : "")],
        ["Orders routed", plan.routed_count === null ? "—" : plan.routed_count],
        ["Unassigned", data.unassigned.length],
        ["Distance", km(plan.distance_m)],
        ["Driving day", hm(plan.duration_s)],
        ["Energy", kwh(plan.energy_wh)],
        ["Solver", plan.backend ? plan.backend + " · " + (plan.solve_time_s || 0).toFixed(1) + " s of " + (plan.time_limit_s || 0) + " s" : "—"],
        ["Checked", plan.feasible === null ? "—" : (plan.feasible ? "feasible" : "infeasible")]
      ];
      if (plan.error) { rows.push(["Error", plan.error]); }
      rows.forEach(function (row) { dl.appendChild(el("dt", {}, row[0])); dl.appendChild(el("dd", {}, row[1])); });
      box.appendChild(dl);
      if (data.unassigned_by_reason.length) {
        var list = el("ul", { id: "board-unassigned-reasons" });
        data.unassigned_by_reason.forEach(function (r) { list.appendChild(el("li", {}, r[1] + ": " + r[2])); });
        box.appendChild(list);
      }
    }
    this.replansList(data);
    this.routesList(data);
    this.moveBox();
  };

  // What each re-plan of the day changed, newest first.
  Board.prototype.replansList = function (data) {
    var box = $("board-replans");
    box.textContent = "";
    box.hidden = !data.replans.length;
    if (!data.replans.length) { return; }
    box.appendChild(el("h3", {}, "Re-plans today"));
    var list = el("ol", { id: "board-replan-list", reversed: true });
    data.replans.forEach(function (r) {
      var item = el("li", { className: "lm-replan is-" + r.status, "data-replan-id": r.id });
      var why = r.triggers.map(function (t) { return t.label; }).join(", ");
      item.appendChild(el("div", { className: "lm-replan-head" },
        r.requested + " · " + r.status_label + (why ? " · " + why : "")));
      var parts = [["added", "Added"], ["moved", "Moved"], ["dropped", "Dropped"], ["unassigned", "Unassigned"]];
      parts.forEach(function (part) {
        var rows = r[part[0]];
        if (rows.length) {
          item.appendChild(el("div", { className: "lm-replan-" + part[0] }, part[1] + " (" + rows.length + "): " + rows.join(", ")));
        }
      });
      if (r.status === "applied" && !r.added.length && !r.moved.length && !r.dropped.length && !r.unassigned.length) {
        item.appendChild(el("div", {}, "No order changed route; times updated."));
      }
      if (r.error) { item.appendChild(el("div", { className: "lm-replan-error" }, r.error)); }
      list.appendChild(item);
    });
    box.appendChild(list);
  };

  Board.prototype.routesList = function (data) {
    var self = this, box = $("board-routes");
    box.textContent = "";
    if (!data.routes.length) { return; }
    box.appendChild(el("h3", {}, "Routes"));
    data.routes.forEach(function (route) {
      var card = el("div", { className: "lm-route", "data-route-id": route.id });
      card.style.setProperty("--lm-route-colour", route.colour);
      var head = el("div", { className: "lm-route-head" });
      head.appendChild(el("span", { className: "lm-route-vehicle" }, route.vehicle));
      head.appendChild(el("span", { className: "lm-route-courier" + (route.courier ? "" : " is-missing") },
        route.courier || "no courier yet"));
      card.appendChild(head);
      card.appendChild(el("div", { className: "lm-route-totals" },
        route.order_stops + " stops · " + km(route.distance_m) + " · " + hm(route.duration_s)));
      card.appendChild(el("div", { className: "lm-route-load" },
        route.start + "–" + route.end + " · " + route.load_parcels + " parcels, " + kg(route.load_weight_g) +
        " · " + kwh(route.energy_wh) + (route.trips > 1 ? " · " + route.trips + " trips" : "")));
      if (route.eta_source === "fallback") {
        card.appendChild(el("div", { className: "lm-route-eta-fallback" },
          "ETAs: straight-line estimate (routing server failed)"));
      }
      var details = el("details");
      details.appendChild(el("summary", {}, "Stops"));
      var list = el("ol");
      details.appendChild(list);
      // Rows are built when opened: a thousand stops cost nothing until someone looks.
      details.addEventListener("toggle", function () {
        if (!details.open || list.childNodes.length) { return; }
        route.stops.forEach(function (s) {
          if (s[4] === "reload" || s[4] === "break") {
            // A break serves no order: shown as the driver's pause and when it starts.
            list.appendChild(el("li", { className: "lm-stop-" + s[4] },
              "— " + (s[4] === "reload" ? "reload at the hub " : "driver's break from ") + s[6]));
            return;
          }
          var item = el("li");
          var button = el("button", { type: "button", className: "lm-stop-row", "data-stop-id": s[0] },
            "#" + s[1] + " · " + s[5] + " · " + s[6] + (s[7] ? " (" + s[7] + ")" : ""));
          button.addEventListener("click", function () { self.select(route, s); });
          item.appendChild(button);
          list.appendChild(item);
        });
      });
      card.appendChild(details);
      box.appendChild(card);
    });
  };

  Board.prototype.select = function (route, stop) {
    var previous = this.selected && this.markers[this.selected.stop[0]];
    if (previous) { previous.setStyle({ color: "#ffffff", weight: 1.5 }); }
    this.selected = { route: route, stop: stop };
    var marker = this.markers[stop[0]];
    if (marker) { marker.setStyle({ color: "#000000", weight: 4 }); marker.bringToFront(); }
    document.querySelectorAll(".lm-stop-row.is-selected").forEach(function (b) { b.classList.remove("is-selected"); });
    var row = document.querySelector('.lm-stop-row[data-stop-id="' + stop[0] + '"]');
    if (row) { row.classList.add("is-selected"); }
    this.moveBox();
  };

  Board.prototype.moveBox = function () {
    var data = this.data, plan = data && data.plan;
    var allowed = Boolean(plan && plan.can_move && this.cfg.perms.move && data.routes.length > 1);
    $("board-move").hidden = !allowed;
    if (!allowed) { return; }
    var chosen = this.selected, select = $("move-target");
    if (chosen && !this.routeById(chosen.route.id)) { chosen = this.selected = null; }
    select.textContent = "";
    select.appendChild(el("option", { value: "" }, "— choose a route —"));
    data.routes.forEach(function (route) {
      if (chosen && route.id === chosen.route.id) { return; }
      select.appendChild(el("option", { value: route.id },
        route.vehicle + " (" + route.order_stops + " stops, " + km(route.distance_m) + ")"));
    });
    $("move-selected").textContent = chosen
      ? "Stop #" + chosen.stop[1] + " · order " + chosen.stop[5] + " on " + chosen.route.vehicle
      : "Select a stop on the map or in a route's list below.";
    $("btn-move").disabled = !(chosen && select.value);
  };

  function start() {
    var source = $("board-config");
    if (!source || typeof L === "undefined") { return; }
    window.lmBoard = new Board(JSON.parse(source.textContent));
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
