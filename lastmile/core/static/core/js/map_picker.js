/* Binds each .lm-map-picker to its latitude/longitude inputs (both directions). */
(function () {
  "use strict";
  function init(el) {
    if (el.dataset.ready || typeof L === "undefined") { return; }
    el.dataset.ready = "1";
    var latInput = document.getElementById(el.dataset.latInput);
    var lngInput = document.getElementById(el.dataset.lngInput);
    if (!latInput || !lngInput) { return; }
    var lat = parseFloat(latInput.value), lng = parseFloat(lngInput.value);
    var hasPoint = isFinite(lat) && isFinite(lng);
    var center = hasPoint ? [lat, lng] : [parseFloat(el.dataset.centerLat), parseFloat(el.dataset.centerLng)];
    var map = L.map(el).setView(center, hasPoint ? 15 : 11);
    L.tileLayer(el.dataset.tilesUrl, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
    var marker = L.marker(center, { draggable: true, opacity: hasPoint ? 1 : 0.4 }).addTo(map);
    function write(latlng) {
      latInput.value = latlng.lat.toFixed(6);
      lngInput.value = latlng.lng.toFixed(6);
      marker.setOpacity(1);
    }
    marker.on("dragend", function () { write(marker.getLatLng()); });
    map.on("click", function (e) { marker.setLatLng(e.latlng); write(e.latlng); });
    function read() {
      var la = parseFloat(latInput.value), ln = parseFloat(lngInput.value);
      if (isFinite(la) && isFinite(ln) && Math.abs(la) <= 90 && Math.abs(ln) <= 180) {
        marker.setLatLng([la, ln]); map.panTo([la, ln]); marker.setOpacity(1);
      }
    }
    latInput.addEventListener("change", read);
    lngInput.addEventListener("change", read);
  }
  function initAll() { document.querySelectorAll(".lm-map-picker").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", initAll); } else { initAll(); }
})();
