// The ASEAN map, enhanced: a tooltip with the country's name and figure when a country is focused from the
// keyboard or pointed at, and its outline drawn thicker. Without JavaScript each country keeps its <title>
// (shown on hover), its accessible name and the table below the map, so nothing is lost.
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

    function areaOf(country) {
      return svg.querySelector(".map-area[data-code='" + country.id.replace("map-", "") + "']");
    }

    // The figure's link (keyboard, screen readers) for anything inside a country's figure or outline.
    function countryOf(target) {
      var area = target.closest && target.closest(".map-area");
      if (area) { return svg.querySelector("#map-" + area.getAttribute("data-code")); }
      return target.closest ? target.closest(".map-country") : null;
    }

    function mark(country, on, focused) {
      var area = areaOf(country);
      country.classList.toggle("active", on);
      if (area) {
        area.classList.toggle("active", on);
        area.classList.toggle("focused", on && focused);
      }
    }

    function show(country, focused) {
      if (shown && shown !== country) { mark(shown, false, false); }
      shown = country;
      mark(country, true, focused);
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

    function hide() {
      if (shown) { mark(shown, false, false); }
      tip.hidden = true;
      shown = null;
    }

    svg.addEventListener("focusin", function (event) {
      var country = countryOf(event.target);
      if (country) { show(country, true); }
    });
    svg.addEventListener("focusout", hide);
    svg.addEventListener("mouseover", function (event) {
      var country = countryOf(event.target);
      if (country && country !== shown) { show(country, false); }
    });
    svg.addEventListener("mouseleave", function () {
      if (!svg.contains(document.activeElement)) { hide(); }
    });
    // Escape dismisses the tooltip without moving the focus (WCAG 1.4.13).
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { hide(); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-map]"), setUp);
}());
