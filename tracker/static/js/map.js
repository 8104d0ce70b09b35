// The ASEAN map, enhanced: a tooltip with the country's name and figure when a country is focused from the
// keyboard or pointed at. Without JavaScript each country keeps its <title> (shown on hover), its
// accessible name and the table below the map, so nothing is lost.
(function () {
  "use strict";

  function setUp(canvas) {
    var tip = canvas.querySelector(".map-tip");
    var svg = canvas.querySelector("svg");
    if (!tip || !svg) { return; }
    var shown = null;

    // The native <title> tooltip would double the one drawn here; the link keeps its aria-label.
    Array.prototype.forEach.call(svg.querySelectorAll(".map-country > title"), function (title) {
      title.parentNode.removeChild(title);
    });

    function show(country) {
      shown = country;
      tip.textContent = "";
      var name = document.createElement("strong");
      name.textContent = country.getAttribute("data-name");
      tip.appendChild(name);
      tip.appendChild(document.createTextNode(country.getAttribute("aria-label").replace(/^[^:]*:\s*/, "")));
      tip.hidden = false;
      // Above the country's figure, kept inside the map's box.
      var badge = (country.querySelector(".map-badge circle") || country).getBoundingClientRect();
      var box = canvas.getBoundingClientRect();
      var left = badge.left + badge.width / 2 - box.left - tip.offsetWidth / 2;
      left = Math.max(0, Math.min(left, box.width - tip.offsetWidth));
      var top = badge.top - box.top - tip.offsetHeight - 6;
      if (top < 0) { top = badge.bottom - box.top + 6; }
      tip.style.left = left + "px";
      tip.style.top = top + "px";
    }

    function hide(country) {
      if (!country || country === shown) {
        tip.hidden = true;
        shown = null;
      }
    }

    svg.addEventListener("focusin", function (event) {
      var country = event.target.closest(".map-country");
      if (country) { show(country); }
    });
    svg.addEventListener("focusout", function (event) { hide(event.target.closest(".map-country")); });
    svg.addEventListener("mouseover", function (event) {
      var country = event.target.closest(".map-country");
      if (country && country !== shown) { show(country); }
    });
    svg.addEventListener("mouseleave", function () { hide(null); });
    // Escape dismisses the tooltip without moving the focus (WCAG 1.4.13).
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { hide(null); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-map]"), setUp);
}());
