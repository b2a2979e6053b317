/* Draws each .lm-fleet-map: one circle per vehicle, coloured by state of charge. */
(function () {
  "use strict";
  function colour(soc) {
    if (soc === null) { return "#757575"; }
    if (soc < 20) { return "#c62828"; }
    if (soc < 50) { return "#ef6c00"; }
    return "#2e7d32";
  }
  // Leaflet renders a string tooltip as HTML: hand it a text-only element instead.
  function tooltip(marker) {
    var label = document.createElement("span");
    label.textContent = marker.code;
    return label;
  }
  function popup(marker) {
    // Built with text nodes, never innerHTML: codes come from the database.
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = marker.url;
    link.textContent = marker.code;
    box.appendChild(link);
    var lines = [
      marker.status,
      marker.soc === null ? "State of charge unknown" : "State of charge " + marker.soc.toFixed(0) + " %",
      marker.seen ? "Seen " + new Date(marker.seen).toLocaleString() : ""
    ];
    lines.forEach(function (text) {
      if (!text) { return; }
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(text));
    });
    return box;
  }
  function init(el) {
    if (el.dataset.ready || typeof L === "undefined") { return; }
    el.dataset.ready = "1";
    var source = document.getElementById(el.dataset.markers);
    var markers = source ? JSON.parse(source.textContent) : [];
    var map = L.map(el);
    L.tileLayer(el.dataset.tilesUrl, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
    var bounds = [];
    markers.forEach(function (m) {
      L.circleMarker([m.lat, m.lng], {
        radius: 8, color: "#ffffff", weight: 2, fillColor: colour(m.soc), fillOpacity: 0.9,
        className: "lm-vehicle-marker"
      }).bindTooltip(tooltip(m)).bindPopup(popup(m)).addTo(map);
      bounds.push([m.lat, m.lng]);
    });
    if (bounds.length) {
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
    } else {
      map.setView([parseFloat(el.dataset.centerLat), parseFloat(el.dataset.centerLng)], 11);
    }
    el.dataset.markerCount = String(markers.length);
  }
  function initAll() { document.querySelectorAll(".lm-fleet-map").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", initAll); } else { initAll(); }
})();
