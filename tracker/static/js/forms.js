// Staff forms, enhanced: "Add a row" adds a blank row in place instead of sending the form, and a
// filter box narrows long organisation pickers. Without JavaScript both still work: the button asks
// the server for the form with one more row, and the picker is a plain grouped <select>.
(function () {
  "use strict";

  // Row fields are named "<group>-<index>-<field>" (WTForms FieldList); a copy of a row needs the
  // next index in every name, id, label and ARIA reference.
  function renumber(row, group, from, to) {
    var pattern = new RegExp("^" + group + "-" + from + "(-|$)");
    var replace = function (value) { return value.replace(pattern, group + "-" + to + "$1"); };
    [row].concat(Array.prototype.slice.call(row.querySelectorAll("*"))).forEach(function (element) {
      ["id", "name", "for"].forEach(function (attribute) {
        var value = element.getAttribute(attribute);
        if (value) { element.setAttribute(attribute, replace(value)); }
      });
      var described = element.getAttribute("aria-describedby");
      if (described) {
        var kept = described.split(/\s+/).filter(function (id) { return !/-error$/.test(id); }).map(replace);
        if (kept.length) { element.setAttribute("aria-describedby", kept.join(" ")); }
        else { element.removeAttribute("aria-describedby"); }
      }
    });
  }

  // The server always ends a group with a blank row: kept as it was when the page loaded (before the
  // reader typed into it), it is the pattern of every row added here.
  document.querySelectorAll("[data-row-group]").forEach(function (group) {
    var rows = group.querySelectorAll("[data-row]");
    var button = group.querySelector("[data-add-row]");
    if (!rows.length || !button) { return; }
    var pattern = rows[rows.length - 1].cloneNode(true);
    var patternIndex = rows.length - 1;
    pattern.querySelectorAll("[autofocus]").forEach(function (control) { control.removeAttribute("autofocus"); });
    var name = group.getAttribute("data-row-group");
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var current = group.querySelectorAll("[data-row]");
      var copy = pattern.cloneNode(true);
      renumber(copy, name, patternIndex, current.length);
      var number = copy.querySelector("[data-row-number]");
      if (number) { number.textContent = String(current.length + 1); }
      var last = current[current.length - 1];
      last.parentNode.insertBefore(copy, last.nextSibling);
      var first = copy.querySelector("input, select, textarea");
      if (first) { first.focus(); }
    });
  });

  // A filter box above a long <select data-filterable>: typing an acronym or part of a name in either
  // script hides the options that do not contain it (the selected option always stays).
  document.querySelectorAll("select[data-filterable]").forEach(function (select) {
    var input = document.createElement("input");
    input.type = "search";
    input.className = "picker-filter";
    input.setAttribute("aria-label", select.getAttribute("data-filter-label") || "");
    input.placeholder = select.getAttribute("data-filter-placeholder") || "";
    input.setAttribute("aria-controls", select.id);
    select.parentNode.insertBefore(input, select);
    input.addEventListener("input", function () {
      var wanted = input.value.trim().toLocaleLowerCase();
      Array.prototype.forEach.call(select.querySelectorAll("option"), function (option) {
        var text = (option.textContent + " " + (option.getAttribute("data-search") || "")).toLocaleLowerCase();
        option.hidden = Boolean(wanted) && !option.selected && option.value !== "" && text.indexOf(wanted) === -1;
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
    });
  });
})();
