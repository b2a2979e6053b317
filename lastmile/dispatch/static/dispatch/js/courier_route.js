// The courier's route page: a small map of the hub and the stops in route order. Data comes
// from the page's json_script block (the CSP allows no inline script). Tapping a stop opens
// its card below. Without Leaflet (or without this script) the cards work alone.
(function () {
  "use strict";
  var el = document.getElementById("route-map");
  var data = document.getElementById("route-map-config");
  if (!el || !data) { return; }
  if (typeof L === "undefined") { el.hidden = true; return; }
  var cfg = JSON.parse(data.textContent);
  var map = L.map(el, { zoomControl: false, scrollWheelZoom: false, tap: true });
  L.tileLayer(cfg.tiles_url, { attribution: cfg.attribution, maxZoom: 19 }).addTo(map);
  var hub = [cfg.hub.lat, cfg.hub.lng];
  var line = [hub];
  L.circleMarker(hub, { radius: 7, color: "#13315c", fillColor: "#13315c", fillOpacity: 1 })
    .addTo(map);
  cfg.stops.forEach(function (stop) {
    var at = [stop.lat, stop.lng];
    line.push(at);
    var style = stop.done
      ? { radius: 5, color: "#8a94a3", fillColor: "#c9ced6", fillOpacity: 1 }
      : stop.next
        ? { radius: 10, color: "#b35c00", fillColor: "#f2a900", fillOpacity: 1, weight: 3 }
        : { radius: 7, color: "#0b57d0", fillColor: "#ffffff", fillOpacity: 1 };
    var marker = L.circleMarker(at, style).addTo(map);
    // The label is text the server wrote (a number), set as text, never as markup.
    var label = document.createElement("span");
    label.textContent = (stop.next ? el.dataset.nextLabel + " · " : el.dataset.stopLabel + " ") + stop.n;
    marker.bindTooltip(label, { direction: "top", permanent: stop.next });
    marker.on("click", function () {
      var card = document.getElementById(stop.card);
      if (!card) { return; }
      var details = card.closest("details.done-stops") || card.querySelector("details");
      if (details) { details.open = true; }
      card.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });
  L.polyline(line, { color: "#0b57d0", weight: 2, opacity: 0.6 }).addTo(map);
  map.fitBounds(L.latLngBounds(line), { padding: [16, 16], maxZoom: 16 });
})();
