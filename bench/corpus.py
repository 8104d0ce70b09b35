"""Deterministic synthetic EV-policy corpus and query mix in the tracker's dataset format, for bench/search.py.

Usage: .venv/bin/python bench/corpus.py N OUT.json [--seed 20261126]

writes a dataset file that `flask --app tracker data load OUT.json` accepts: the topics, organisations and
events of the bundled demo data (so issuers, bodies and forum links point at real records) and N
synthetic policies. The same seed always gives the same corpus, and policy number i does not depend on
N, so a corpus of 10,000 is the first 10,000 policies of a corpus of 100,000.

What a policy looks like:

* summary_en: about 850 English words (600 to 1,000 draws, some of them phrases) in sentences of 8
  to 24. Words are drawn from a Zipf law (s = 1.05) over 20,000 word forms: English function and
  legal words at the top ranks, about 280 real EV-policy words (with their inflections, so stemmers
  have work) at mid-high ranks, then invented English-like words with inflection suffixes for the
  long tail. Every 20 to 40 words a domain phrase is inserted, mostly one of the policy's own topics
  ("import duty", "charging stations", "road tax" ...) and otherwise a general one ("electric
  vehicles", "Ministry of Energy and Mines" ...), and each summary cites 1 to 3 other instruments by
  reference ("Decree No. 1283/PM", "RA 11697").
* title_en: instrument, subject and country, about 8 to 14 words; reference: unique per policy.
* title_lo and summary_lo: built from short real Lao words and compounds (ລົດໄຟຟ້າ, ນະໂຍບາຍ, ພາສີ ...),
  written as Lao is, without spaces between words and with spaces between clauses. Every Lao PDR
  policy has them, and 60% of the others.
* country over the 13 jurisdictions (Lao PDR weighted up), a status history that follows the
  transition table and ends in one of the 11 legal statuses, instrument, 1 to 4 topics, 1 or 2 vehicle
  classes, dates from 2008 to 2026 (some known only to the month or the year), 1 to 3 sources with
  titles, other bodies, and for 8% a forum link to a demo event. 97% are published, the rest drafts or
  in review (so visibility filtering has something to do).
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATASET = ROOT / "tracker" / "data" / "asean-ev-policies.json"
DEFAULT_SEED = 20261126
ZIPF_S = 1.05

# ------------------------------------------------------------------------------------------------
# Vocabulary

FUNCTION_WORDS = """the of and to in a for on by with is be shall as from that this or are at which under its not
all any their will may it has have been such other each these than more per within between into also including
where after before during following provided least those must only both where upon thereof herein said same
against over through without until whether while because so if no an can should would being was were do does
article section paragraph clause chapter part schedule annex""".split()
FUNCTION_WORDS = list(dict.fromkeys(FUNCTION_WORDS))

# Real words of EV policy, with inflections: stems are shared, so a stemmed query finds the other forms.
DOMAIN_WORDS = """electric electrical electricity electrified electrification vehicle vehicles battery batteries
charging charge charged charger chargers station stations import imports imported importing importer importers
duty duties tax taxes taxation taxed excise tariff tariffs incentive incentives incentivise subsidy subsidies
subsidised exemption exemptions exempt exempted reduce reduced reduction reductions rate rates ministry
ministries minister energy mines mining transport transportation decree decrees regulation regulations
regulate regulated regulating regulator standard standards standardisation emission emissions emit fuel fuels
petrol diesel gasoline grid grids power supply utility utilities registration register registered licence
licences licensing licensed motorcycle motorcycles scooter scooters bus buses truck trucks fleet fleets
procurement procure procured manufacturing manufacture manufacturer manufacturers assembly assembled plant
plants investment investments investor investors recycling recycle recycled lithium cell cells module modules
infrastructure public private government governments national provincial province provinces municipal
vientiane target targets roadmap roadmaps adoption adopt adopted customs certificate certificates certification
compliance comply safety connector connectors plug plugs kilowatt kilowatts capacity renewable hydropower solar
carbon climate pollution air quality road roads parking inspection inspections approval approvals type
homologation conformity testing tested laboratory laboratories operator operators service services
maintenance warranty disposal waste hazardous environment environmental sustainable sustainability green
economy economic finance financial fiscal budget budgets loan loans bank banks credit credits guarantee
guarantees scheme schemes programme programmes pilot pilots project projects deployment deploy deployed
network networks tender tenders bid bids contract contracts concession concessions partnership partnerships
cooperation regional asean member members market markets price prices pricing cost costs consumer consumers
purchase purchases purchased buyer buyers dealer dealers component components parts spare local localisation
content origin rules rule quota quotas ceiling implementation implementing implemented enforce enforcement
penalty penalties fine fines violation violations amendment amendments amended repeal repealed supersede
superseded""".split()

# Phrases every EV policy uses, and phrases of each topic: a policy's text leans on its own topics.
GENERAL_PHRASES = ["electric vehicles", "electric vehicle", "the government", "Ministry of Energy and Mines",
                   "greenhouse gas emissions", "internal combustion engine", "energy efficiency",
                   "renewable energy", "implementing rules", "competent authorities"]
TOPIC_PHRASES = {
    "charging_infrastructure": ["charging stations", "charging station", "fast charging", "charging connectors",
                                "charging infrastructure"],
    "fiscal_incentives": ["excise tax", "value added tax", "tax exemption", "corporate income tax"],
    "import_rules": ["import duty", "import licence", "completely knocked down", "rules of origin"],
    "vehicle_standards": ["type approval", "safety standards", "emission standards", "fuel economy"],
    "grid_and_energy": ["electricity tariff", "national grid", "peak demand", "power purchase agreement"],
    "targets_and_roadmaps": ["national target", "share of new sales", "roadmap milestones"],
    "public_procurement_and_fleets": ["public procurement", "government fleet", "fleet operators"],
    "manufacturing_and_investment": ["special economic zone", "investment promotion", "local content",
                                     "battery manufacturing"],
    "battery_and_recycling": ["battery recycling", "lithium ion batteries", "end of life", "battery swapping"],
    "human_resources_and_skills": ["vocational training", "technical skills", "training centres"],
    "registration_and_road_tax": ["road tax", "vehicle registration", "periodic inspection", "number plates"],
    "regional_cooperation": ["ASEAN member states", "mutual recognition", "regional roadmap"],
    "public_transport": ["electric buses", "public transport", "electric tricycles", "bus rapid transit"],
}
PHRASES = GENERAL_PHRASES + [phrase for phrases in TOPIC_PHRASES.values() for phrase in phrases]

FIXED_QUERY_PHRASES = ["electric vehicles", "import duty", "charging stations", "road tax", "battery recycling",
                       "public procurement", "fast charging", "type approval", "value added tax",
                       "energy and mines"]

LAO_WORDS = ["ລົດໄຟຟ້າ", "ໄຟຟ້າ", "ນະໂຍບາຍ", "ພາສີ", "ການນຳເຂົ້າ", "ສະຖານີສາກໄຟ", "ລັດຖະບານ", "ມາດຕະຖານ",
             "ຍານພາຫະນະ", "ລົດຈັກ", "ລົດເມ", "ພະລັງງານ", "ການລົງທຶນ", "ອາກອນ", "ສົ່ງເສີມ", "ການນຳໃຊ້",
             "ດຳລັດ", "ກົດໝາຍ", "ລະບຽບການ", "ຂໍ້ຕົກລົງ", "ແຜນຍຸດທະສາດ", "ເປົ້າໝາຍ", "ສິ່ງແວດລ້ອມ", "ການຂົນສົ່ງ",
             "ແບັດເຕີຣີ", "ຍົກເວັ້ນ", "ຫຼຸດຜ່ອນ", "ລາຄາ", "ອັດຕາ", "ໂຄງການ", "ແຂວງ", "ວຽງຈັນ", "ຜູ້ປະກອບການ",
             "ການສາກໄຟ", "ການຈົດທະບຽນ", "ກອງປະຊຸມ", "ເອກະສານ", "ປີ", "ແລະ", "ຂອງ", "ໃນ", "ເພື່ອ", "ໃຫ້"]
LAO_PHRASES = ["ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່", "ສປປ ລາວ", "ກະຊວງການເງິນ", "ໄຟຟ້າລາວ"]
LAO_QUERY_WORDS = ["ລົດໄຟຟ້າ", "ນະໂຍບາຍ", "ພາສີ", "ສະຖານີສາກໄຟ", "ມາດຕະຖານ", "ການລົງທຶນ", "ໄຟຟ້າ", "ລັດຖະບານ"]
LAO_INSTRUMENTS = {"law": "ກົດໝາຍ", "decree": "ດຳລັດ", "decision": "ຂໍ້ຕົກລົງ", "regulation": "ລະບຽບການ",
                   "notification": "ແຈ້ງການ", "standard": "ມາດຕະຖານ", "strategy": "ຍຸດທະສາດ",
                   "roadmap": "ແຜນທີ່ທາງ", "incentive": "ມາດຕະການສົ່ງເສີມ", "budget_measure": "ງົບປະມານ",
                   "declaration": "ຖະແຫຼງການ", "agreement": "ສັນຍາ", "programme": "ແຜນງານ", "target": "ເປົ້າໝາຍ"}


def _invented_words(count: int) -> list[str]:
    """English-like words that exist in no dictionary, with inflections: the long tail of a real corpus."""
    rng = random.Random(7)  # fixed: the vocabulary is the same whatever the corpus seed
    onsets = ["b", "br", "c", "cl", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "pl", "pr", "r",
              "s", "st", "t", "tr", "v", "w"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io"]
    codas = ["", "", "n", "r", "l", "s", "t", "m", "nd", "st"]
    suffixes = ["", "s", "ed", "ing", "ation", "ment", "al", "er", "ity", "ly"]
    taken = set(FUNCTION_WORDS) | set(DOMAIN_WORDS)
    words: list[str] = []
    while len(words) < count:
        root = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                       for _ in range(rng.choice((2, 2, 3))))
        for suffix in rng.sample(suffixes, 4):
            word = root + suffix
            if word not in taken and len(words) < count:
                taken.add(word)
                words.append(word)
    return words


@dataclass(frozen=True)
class Vocabulary:
    """Word forms by rank and their Zipf cumulative weights."""

    words: list[str]
    cumulative: list[float]
    domain: list[str]
    mid: list[str]
    rare: list[str]

    @classmethod
    def build(cls, size: int = 20_000) -> Vocabulary:
        invented = _invented_words(size - len(FUNCTION_WORDS) - len(DOMAIN_WORDS))
        # Domain words alternate with invented ones just below the function words: "mid-high" ranks.
        interleaved = [word for pair in itertools.zip_longest(DOMAIN_WORDS, invented[:len(DOMAIN_WORDS)])
                       for word in pair if word]
        words = FUNCTION_WORDS + interleaved + invented[len(DOMAIN_WORDS):]
        cumulative = list(itertools.accumulate(1 / rank ** ZIPF_S for rank in range(1, len(words) + 1)))
        rank = {word: index for index, word in enumerate(words)}
        # Mid-frequency: each in roughly 1-5% of 800-word documents; rare: in a few per ten thousand.
        mid = [word for word in invented if 600 <= rank[word] < 3000]
        rare = [word for word in invented if 8000 <= rank[word] < 20000]
        return cls(words, cumulative, list(DOMAIN_WORDS), mid, rare)

    def sample(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


# ------------------------------------------------------------------------------------------------
# Reference data and distributions

COUNTRIES = {"LA": 20, "TH": 10, "VN": 10, "ID": 10, "PH": 9, "MY": 8, "SG": 6, "KH": 6, "MM": 5, "BN": 4,
             "TL": 3, "ASEAN": 5, "INTL": 4}
COUNTRY_NAMES = {"LA": "Lao PDR", "TH": "Thailand", "VN": "Viet Nam", "ID": "Indonesia", "PH": "the Philippines",
                 "MY": "Malaysia", "SG": "Singapore", "KH": "Cambodia", "MM": "Myanmar", "BN": "Brunei",
                 "TL": "Timor-Leste", "ASEAN": "ASEAN member states", "INTL": "international markets"}
INSTRUMENTS = {"decree": 14, "law": 6, "decision": 10, "regulation": 12, "notification": 8, "standard": 10,
               "strategy": 6, "roadmap": 4, "incentive": 10, "budget_measure": 4, "declaration": 3,
               "agreement": 4, "programme": 5, "target": 4}
INSTRUMENT_LABELS = {"budget_measure": "Budget measure"}
# Each final status with the paths through the transition table that lead to it.
STATUS_PATHS = {
    "in_force": (30, [["adopted", "in_force"], ["drafting", "adopted", "in_force"], ["in_force"]]),
    "adopted": (20, [["adopted"], ["consultation", "adopted"], ["proposed", "drafting", "adopted"]]),
    "drafting": (8, [["drafting"], ["proposed", "drafting"]]),
    "consultation": (6, [["drafting", "consultation"], ["consultation"]]),
    "proposed": (6, [["proposed"]]),
    "suspended": (3, [["adopted", "in_force", "suspended"]]),
    "expired": (5, [["adopted", "in_force", "expired"], ["in_force", "expired"]]),
    "superseded": (6, [["adopted", "in_force", "superseded"], ["adopted", "superseded"]]),
    "repealed": (5, [["adopted", "in_force", "repealed"]]),
    "withdrawn": (3, [["proposed", "withdrawn"], ["drafting", "consultation", "withdrawn"]]),
    "unknown": (8, [["unknown"]]),
}
VEHICLE_CLASSES = {"all": 30, "car": 25, "two_wheeler": 20, "three_wheeler": 6, "bus": 12, "truck": 7}
CLASS_PHRASES = {"all": "electric vehicles", "car": "electric cars", "two_wheeler": "electric motorcycles",
                 "three_wheeler": "electric tricycles", "bus": "electric buses", "truck": "electric trucks"}
SUBJECTS = ["import duty exemptions for {cls}", "charging station standards", "battery recycling and disposal",
            "excise tax reductions for {cls}", "public procurement of {cls}", "registration and road tax of {cls}",
            "type approval of {cls}", "investment incentives for battery manufacturing", "the national EV roadmap",
            "targets for {cls}", "grid connection of charging infrastructure", "electricity tariffs for charging",
            "safety requirements for {cls}", "local assembly of {cls}", "fleet electrification targets"]
EDITORIAL_STATES = {"published": 97, "draft": 2, "in_review": 1}
SOURCE_DOMAINS = ["gazette.example.gov", "laws.example.org", "news.example.com", "ministry.example.gov",
                  "lawfirm.example.com"]
SOURCE_KINDS = {"official": 4, "news": 4, "law_firm": 2, "ngo": 1, "other": 1}
FORUM_ROLES = ["originated", "discussed", "announced", "recommended"]
YEARS = range(2008, 2027)


def _weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def reference_number(index: int) -> int:
    """A number unique to policy ``index`` that looks like a gazette number (a bijection below 900,000)."""
    return (index * 7919) % 900_000 + 100


def reference_of(country: str, instrument: str, number: int, year: int) -> str:
    if country == "LA":
        suffix = {"decree": "PM", "decision": "MEM", "notification": "MOIC"}.get(instrument, "MPWT")
        return f"{INSTRUMENT_LABELS.get(instrument, instrument.capitalize())} No. {number}/{suffix}"
    if country == "PH":
        return f"RA {number}" if instrument == "law" else f"Executive Order No. {number}, s. {year}"
    if country == "VN":
        return f"Decree No. {number}/{year}/ND-CP"
    if country == "ID":
        return f"PMK No. {number}/{year}"
    if country == "KH":
        return f"Prakas {number}"
    if country == "INTL":
        return f"UN Regulation No. {number}"
    return f"{INSTRUMENT_LABELS.get(instrument, instrument.capitalize())} No. {number}/{year}"


def _date(rng: random.Random, year: int) -> str:
    # Sources give a full day most often, a month sometimes, only a year now and then.
    precision = rng.random()
    if precision < 0.6:
        return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if precision < 0.85:
        return f"{year}-{rng.randint(1, 12):02d}"
    return str(year)


@dataclass
class Corpus:
    """Synthetic policies in the dataset format; ``policy(i)`` depends only on the seed and i."""

    seed: int = DEFAULT_SEED
    vocabulary: Vocabulary = field(default_factory=Vocabulary.build)
    reference: dict = field(default_factory=lambda: json.loads(DEMO_DATASET.read_text(encoding="utf-8")))

    def __post_init__(self) -> None:
        self.organisations_by_country: dict[str, list[str]] = {}
        for organisation in self.reference["organisations"]:
            self.organisations_by_country.setdefault(organisation["country"], []).append(organisation["key"])
        self.organisation_keys = [o["key"] for o in self.reference["organisations"]]
        self.topic_keys = [t["key"] for t in self.reference["topics"]]
        self.event_keys = [e["key"] for e in self.reference["events"]]
        self._general_cumulative = list(itertools.accumulate(
            1 / rank for rank in range(1, len(GENERAL_PHRASES) + 1)))
        self._lao_cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(LAO_WORDS) + 1)))

    def reference_records(self) -> dict:
        """Topics, organisations and events of the demo data, which synthetic policies refer to."""
        return {"topics": self.reference["topics"], "organisations": self.reference["organisations"],
                "events": [dict(event, editorial_state="published") for event in self.reference["events"]]}

    def policies(self, count: int, start: int = 0) -> Iterator[dict]:
        for index in range(start, start + count):
            yield self.policy(index)

    @staticmethod
    def key_of(index: int) -> str:
        return f"synthetic-policy-{index:06d}"

    def policy(self, index: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + index)
        country = _weighted(rng, COUNTRIES)
        instrument = _weighted(rng, INSTRUMENTS)
        final = _weighted(rng, {status: weight for status, (weight, _) in STATUS_PATHS.items()})
        path = rng.choice(STATUS_PATHS[final][1])
        first_year = rng.choice(YEARS[:-len(path)])
        history, year = [], first_year
        for step in path:
            # About one step in ten has no known date: the tracker keeps those in the source's order.
            date = None if rng.random() < 0.1 else _date(rng, year)
            history.append({"status": step, "date": date, "note": self._sentence(rng, 10, 25),
                            "source_url": f"https://{rng.choice(SOURCE_DOMAINS)}/doc/{index}/{len(history)}"})
            year = min(year + rng.randint(0, 2), YEARS[-1])
        classes = rng.sample(list(VEHICLE_CLASSES), k=rng.choice((1, 1, 2)),
                             counts=list(VEHICLE_CLASSES.values()))
        classes = list(dict.fromkeys(classes))
        topics = list(dict.fromkeys(rng.choices(self.topic_keys, k=rng.randint(1, 4))))
        subject = rng.choice(SUBJECTS).format(cls=CLASS_PHRASES[classes[0]])
        label = INSTRUMENT_LABELS.get(instrument, instrument.capitalize())
        title_en = f"{label} on {subject} in {COUNTRY_NAMES[country]}"
        if rng.random() < 0.5:
            title_en += f" ({first_year})"
        local_issuers = self.organisations_by_country.get(country) or []
        issuer = rng.choice(local_issuers) if local_issuers and rng.random() < 0.9 else None
        bodies = []
        for org in rng.sample(self.organisation_keys, k=rng.choice((0, 0, 1, 2))):
            if org != issuer:
                bodies.append({"org": org, "role": rng.choice(("implementing", "partner", "funder"))})
        time_bound = instrument in ("incentive", "budget_measure", "programme") and rng.random() < 0.7
        valid_from = str(first_year) if time_bound else None
        valid_to = str(min(first_year + rng.randint(2, 8), 2035)) if time_bound else None
        with_lao = country == "LA" or rng.random() < 0.6
        record = {
            "key": self.key_of(index),
            "country": country,
            "title_en": title_en,
            "title_lo": self._lao_title(rng, instrument) if with_lao else None,
            "title_local": None,
            "reference": reference_of(country, instrument, reference_number(index), first_year),
            "instrument": instrument,
            "issuer": issuer,
            "other_bodies": bodies,
            "topics": topics,
            "vehicle_classes": classes,
            "status": final,
            "status_history": history,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "summary_en": self._summary(rng, topics),
            "summary_lo": self._lao_summary(rng) if with_lao else None,
            "relations": [],
            "forum_links": [],
            "sources": [{"url": f"https://{rng.choice(SOURCE_DOMAINS)}/source/{index}/{n}",
                         "title": self._sentence(rng, 5, 12, period=False),
                         "published": _date(rng, rng.choice(YEARS)) if rng.random() < 0.7 else None,
                         "kind": _weighted(rng, SOURCE_KINDS)}
                        for n in range(rng.randint(1, 3))],
            "confidence": rng.choice(("high", "medium", "low")),
            "conflicts": [],
            "editorial_state": _weighted(rng, EDITORIAL_STATES),
        }
        if rng.random() < 0.08:
            record["forum_links"].append({"event": rng.choice(self.event_keys), "role": rng.choice(FORUM_ROLES),
                                          "evidence": self._sentence(rng, 8, 20), "source_url": None})
        return record

    # Text ---------------------------------------------------------------------------------------

    def _sentence(self, rng: random.Random, shortest: int, longest: int, *, period: bool = True) -> str:
        words = self.vocabulary.sample(rng, rng.randint(shortest, longest))
        text = " ".join(words)
        text = text[0].upper() + text[1:]
        return text + "." if period else text

    def _summary(self, rng: random.Random, topics: list[str]) -> str:
        words = self.vocabulary.sample(rng, rng.randint(600, 1000))
        # A domain phrase every 20-40 words, mostly of the policy's own topics, so phrase queries find
        # real multi-word matches in the share of the corpus a real phrase would have.
        own = [phrase for topic in topics for phrase in TOPIC_PHRASES[topic]]
        position = rng.randint(5, 20)
        while position < len(words):
            if rng.random() < 0.6:
                words[position] = rng.choice(own)
            else:
                words[position] = rng.choices(GENERAL_PHRASES, cum_weights=self._general_cumulative)[0]
            position += rng.randint(20, 40)
        for _ in range(rng.randint(1, 3)):
            cited = rng.randrange(100_000)
            citation = reference_of(_weighted(rng, COUNTRIES), _weighted(rng, INSTRUMENTS),
                                    reference_number(cited), rng.choice(YEARS))
            words[rng.randrange(len(words))] = f"pursuant to {citation}"
        sentences, start = [], 0
        while start < len(words):
            end = start + rng.randint(8, 24)
            sentence = " ".join(words[start:end])
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            start = end
        return " ".join(sentences)

    def _lao_words(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(LAO_WORDS, cum_weights=self._lao_cumulative, k=count)

    def _lao_title(self, rng: random.Random, instrument: str) -> str:
        # "<instrument> on <subject>", as Lao legal titles are written: ດຳລັດວ່າດ້ວຍ...
        subject = "".join(self._lao_words(rng, rng.randint(2, 4)))
        tail = f" {rng.choice(LAO_PHRASES)}" if rng.random() < 0.4 else ""
        return f"{LAO_INSTRUMENTS[instrument]}ວ່າດ້ວຍ{subject}{tail}"

    def _lao_summary(self, rng: random.Random) -> str:
        clauses = []
        for _ in range(rng.randint(6, 12)):
            clause = "".join(self._lao_words(rng, rng.randint(3, 7)))
            if rng.random() < 0.2:
                clause += " " + rng.choice(LAO_PHRASES)
            clauses.append(clause)
        return " ".join(clauses)


# ------------------------------------------------------------------------------------------------
# Query mix


@dataclass(frozen=True)
class Query:
    """One query of the mix, as the tracker's query language writes it and as its parts.

    ``terms`` are words or phrases (a phrase has a space), all required; ``filters`` maps a
    SearchRequest field ("countries", "statuses", "topics") to the values it must have.
    """

    kind: str
    text: str
    terms: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sort: str = "relevance"

    def describe(self) -> str:
        parts = [self.text]
        parts += [f"{name}={','.join(values)}" for name, values in self.filters]
        if self.sort != "relevance":
            parts.append(f"sort={self.sort}")
        return " ".join(parts)


QUERY_CLASSES = {"single": 50, "and2": 50, "phrase": 40, "facet": 30, "sorted": 30}
FILTERABLE_STATUSES = ["in_force", "adopted", "drafting", "superseded"]


def query_mix(corpus: Corpus, documents: int, *, seed: int = DEFAULT_SEED, size: int = 200) -> list[Query]:
    """A fixed mix (by seed) of ``size`` queries: single words, two-word AND, phrases, a word with facet
    filters (country, status, topic), and words sorted by the latest status change.

    Terms are 60% domain words, 30% mid-frequency and 10% rare words; some single-word queries are Lao
    words or reference numbers of policies in the corpus. Half the phrases are fixed domain phrases,
    half are two consecutive words of a random policy of the corpus (so they have at least one hit).
    """
    rng = random.Random(seed + 1)
    vocabulary = corpus.vocabulary
    scale = size / sum(QUERY_CLASSES.values())
    counts = {kind: round(count * scale) for kind, count in QUERY_CLASSES.items()}

    def term() -> str:
        pick = rng.random()
        pool = vocabulary.domain if pick < 0.6 else vocabulary.mid if pick < 0.9 else vocabulary.rare
        return rng.choice(pool)

    queries: list[Query] = []
    for number in range(counts["single"]):
        if number % 10 == 7:
            word = rng.choice(LAO_QUERY_WORDS)
        elif number % 10 == 9:
            word = str(reference_number(rng.randrange(documents)))
        else:
            word = term()
        queries.append(Query("single", word, (word,)))
    for _ in range(counts["and2"]):
        first, second = term(), term()
        while second == first:
            second = term()
        queries.append(Query("and2", f"{first} {second}", (first, second)))
    for number in range(counts["phrase"]):
        if number % 2 == 0:
            phrase = FIXED_QUERY_PHRASES[(number // 2) % len(FIXED_QUERY_PHRASES)]
        else:
            phrase = _phrase_from(corpus.policy(rng.randrange(documents))["summary_en"], rng)
        queries.append(Query("phrase", f'"{phrase}"', (phrase,)))
    for number in range(counts["facet"]):
        word = term() if number % 3 else rng.choice(vocabulary.domain)
        filters: list[tuple[str, tuple[str, ...]]] = []
        choice = number % 3
        if choice in (0, 2):
            filters.append(("countries", (_weighted(rng, COUNTRIES),)))
        if choice in (1, 2):
            filters.append(("statuses", (rng.choice(FILTERABLE_STATUSES),)))
        if choice == 1 or number % 5 == 0:
            filters.append(("topics", (rng.choice(corpus.topic_keys),)))
        queries.append(Query("facet", word, (word,), tuple(filters)))
    for number in range(counts["sorted"]):
        words = (term(),) if number % 2 else (rng.choice(vocabulary.domain), term())
        queries.append(Query("sorted", " ".join(words), words, sort="latest"))
    return queries


def _phrase_from(text: str, rng: random.Random) -> str:
    """Two consecutive words of ``text`` inside one sentence, neither a function word (search engines
    drop stop words, and differently)."""
    sentences = [s.split() for s in text.split(". ") if len(s.split()) > 3]
    function = set(FUNCTION_WORDS)
    for _ in range(100):
        words = rng.choice(sentences)
        start = rng.randrange(len(words) - 1)
        pair = [w.strip(".,").lower() for w in words[start:start + 2]]
        if all(w.isalpha() and w not in function for w in pair):
            return " ".join(pair)
    return "electric vehicles"


# ------------------------------------------------------------------------------------------------
# Command line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of synthetic policies")
    parser.add_argument("out", type=Path, help="dataset file to write ('-' for standard output)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"corpus seed (default {DEFAULT_SEED})")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("count must be at least 1")
    corpus = Corpus(args.seed)
    data = {"dataset": "asean-ev-policies", "version": 1, "compiled": "2026-11-26",
            "notes": f"Synthetic corpus for the search benchmark (seed {args.seed}); not real policies.",
            **corpus.reference_records(), "policies": list(corpus.policies(args.count))}
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"Wrote {args.count} synthetic policies to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
