"""Baseline for bench/pages.py: a bare Flask + Jinja page shaped like the policy list, with no database."""
from __future__ import annotations

import datetime as dt

from flask import Flask, render_template, request
from jinja2 import DictLoader

BASE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% block title %}{% endblock %} · Bare Flask page</title>
  <meta name="description" content="A page of the same shape as the policy list, rendered from memory.">
  <link rel="stylesheet" href="/static/app.css">
</head>
<body>
  <a class="skip" href="#main">Skip to content</a>
  <header class="site">
    <div class="wrap">
      <a class="brand" href="{{ url_for('index') }}">Bare Flask page</a>
      <nav aria-label="Main">
        {% for label in ['Home', 'Policies', 'Events', 'Countries', 'API'] %}
        <a href="{{ url_for('index') }}"{% if loop.index == 2 %} aria-current="page"{% endif %}>{{ label }}</a>
        {% endfor %}
      </nav>
    </div>
  </header>
  <main id="main" class="wrap">
    {% block content %}{% endblock %}
  </main>
  <footer class="site">
    <div class="wrap">
      <p>The same layout and table as the policy list, with rows held in memory: no database, no services.</p>
    </div>
  </footer>
</body>
</html>
"""

LIST = """{% extends "base.html" %}
{% block title %}Items{% endblock %}
{% block content %}
<h1>Items</h1>
<form class="filters" method="get" action="{{ url_for('index') }}" aria-label="Filter items">
  {% for name, options in filters.items() %}
  <div class="field">
    <label for="f-{{ name }}">{{ name | capitalize }}</label>
    <select id="f-{{ name }}" name="{{ name }}">
      <option value="">Any</option>
      {% for option in options %}<option value="{{ option | lower }}">{{ option }}</option>{% endfor %}
    </select>
  </div>
  {% endfor %}
  <div class="actions"><button type="submit">Apply</button></div>
</form>
<p class="count" role="status">{{ rows | length }} items.</p>
<div class="table-scroll">
<table class="policies">
  <thead>
    <tr>
      <th scope="col">Title</th>
      <th scope="col">Country</th>
      <th scope="col">Instrument</th>
      <th scope="col">Status</th>
      <th scope="col">Last change</th>
    </tr>
  </thead>
  <tbody>
  {% for row in rows %}
    <tr>
      <td>
        <a class="title" href="{{ url_for('index', key=row.key) }}">{{ row.title }}</a>
        <ul class="tags" aria-label="Topics">
          {% for tag in row.tags %}<li>{{ tag }}</li>{% endfor %}
        </ul>
      </td>
      <td>{{ row.country }}</td>
      <td>{{ row.instrument }}</td>
      <td><span class="status status-{{ row.status | lower }}">{{ row.status }}</span></td>
      <td class="nowrap">{{ row.changed.strftime('%d %B %Y') }}</td>
    </tr>
  {% endfor %}
  </tbody>
</table>
</div>
{% endblock %}
"""

COUNTRIES = ["Lao PDR", "Cambodia", "Indonesia", "Malaysia", "Philippines", "Singapore", "Thailand", "Viet Nam"]
INSTRUMENTS = ["Law", "Decree", "Decision", "Regulation", "Standard", "Strategy", "Incentive", "Roadmap"]
STATUSES = ["Proposed", "Drafting", "Adopted", "In force", "Expired", "Superseded"]
TOPICS = ["Charging infrastructure", "Fiscal incentives", "Import rules and licensing", "Vehicle standards",
          "Grid and energy supply", "Targets and roadmaps", "Manufacturing and investment", "Public transport"]
FILTERS = {"country": COUNTRIES, "instrument": INSTRUMENTS, "status": STATUSES, "topic": TOPICS}

ROWS = [
    {
        "key": f"item-{n:03d}",
        "title": (f"Item {n}: a regulation on import incentives, vehicle standards and charging for electric vehicles, "
                  "with conditions on local assembly and yearly reporting"),
        "tags": [TOPICS[(n + k) % len(TOPICS)] for k in range(1 + n % 3)],
        "country": COUNTRIES[n % len(COUNTRIES)],
        "instrument": INSTRUMENTS[n % len(INSTRUMENTS)],
        "status": STATUSES[n % len(STATUSES)],
        "changed": dt.date(2020, 1, 1) + dt.timedelta(days=37 * n),
    }
    for n in range(1, 101)
]

app = Flask(__name__)
app.jinja_loader = DictLoader({"base.html": BASE, "list.html": LIST})


@app.get("/")
def index():
    count = request.args.get("rows", 20, type=int)
    return render_template("list.html", rows=ROWS[:max(1, min(count, len(ROWS)))], filters=FILTERS)
