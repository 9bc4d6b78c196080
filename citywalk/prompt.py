"""Text prompt → Shot: a small rule-based reader for "a Tokyo side street at dusk in the rain".

Rules, not a language model: every phrase maps to fixed Shot fields, the longest phrase wins at
each position, so the same text always gives the same Shot.  Words it does not know are returned
in `PromptResult.unknown` (the CLI prints them as a warning), never dropped silently.  This stage
sits left of every other one: it imports only `citywalk.shot` and `citywalk.errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ShotError
from .shot import Shot

MAX_PROMPT_CHARS = 2000
ACTOR_NOTE = ("actor requested: add --actor me.actor to put yourself in the shot "
              "(make one with: citywalk likeness capture me.mp4 --height-m 1.72 -o me.actor)")

# --- vocabulary (data) ----------------------------------------------------------------------
# Each table maps a value to the phrases that ask for it.  Phrases go through the same
# tokenizer as prompts, so "bird's eye" and "wide-angle" are written the way people type them.

STYLE_PHRASES: dict[str, tuple[str, ...]] = {
    "tokyo": ("tokyo", "japan", "japanese", "shibuya", "shinjuku"),
    "paris": ("paris", "parisian", "haussmann", "haussmannian", "french"),
    "new_york": ("new york", "new york city", "nyc", "manhattan", "brooklyn"),
    "london": ("london", "british", "english"),
    "hong_kong": ("hong kong", "hongkong", "hk", "kowloon"),
    "amsterdam": ("amsterdam", "dutch"),
}
STREET_PHRASES: dict[str, tuple[str, ...]] = {
    "side": ("side street", "side streets", "from the side street", "alley", "alleys", "alleyway", "back street",
             "back streets", "backstreet", "back alley", "lane", "narrow street"),
    "main": ("main street", "avenue", "boulevard", "high street", "shopping street", "main road"),
}
TIME_PHRASES: dict[str, tuple[str, ...]] = {
    "dawn": ("dawn", "sunrise", "daybreak", "first light"),
    "morning": ("morning", "early morning"),
    "noon": ("noon", "midday", "mid day", "day", "daytime", "daylight"),
    "afternoon": ("afternoon", "late afternoon"),
    "golden_hour": ("golden hour", "sunset"),
    "dusk": ("dusk", "twilight", "evening", "blue hour"),
    "night": ("night", "midnight", "nighttime", "night time", "tonight", "late night"),
}
_TIME_PREFIXES = ("at", "at the", "in the", "during the", "by")
CROWD_PHRASES: dict[str, tuple[str, ...]] = {
    "busy": ("busy", "crowded", "bustling", "packed", "rush hour", "full of people", "lots of people"),
    "light": ("quiet", "a few people", "few people", "sparse"),
    "none": ("empty", "deserted", "nobody", "no one", "empty streets", "deserted streets"),
}
WEATHER_PHRASES: dict[str, tuple[str, ...]] = {
    "clear": ("clear", "sunny", "sunshine", "clear sky", "clear skies", "blue sky", "blue skies"),
    "cloudy": ("cloudy", "clouds", "partly cloudy"),
    "overcast": ("overcast", "grey", "gray", "grey sky", "gray sky", "grey skies", "gray skies"),
    "fog": ("fog", "foggy", "mist", "misty", "haze", "hazy"),
    "soft_rain": ("light rain", "soft rain", "drizzle", "drizzling", "drizzly", "light showers"),
    "mid_rain": ("rain", "rainy", "raining", "rainfall", "showers"),
    "hard_rain": ("heavy rain", "hard rain", "driving rain", "downpour", "pouring", "pouring rain", "torrential rain"),
    "thunderstorm": ("storm", "stormy", "thunderstorm", "thunder storm", "thunder", "lightning"),
    "light_snow": ("snow", "snowy", "snowing", "snowfall", "light snow"),
    "heavy_snow": ("heavy snow", "blizzard", "snowstorm", "snow storm"),
    "after_rain": ("after the rain", "after rain", "wet", "wet streets", "puddles"),
    "dust_storm": ("dust", "dusty", "dust storm", "sandstorm", "sand storm"),
}
_WEATHER_PREFIXES = ("in", "in the", "in a", "during the", "during a")
RIG_PHRASES: dict[str, tuple[str, ...]] = {
    "side": ("from the side", "side view", "side on", "tracking shot", "tracking"),
    "drone": ("drone", "aerial", "from above", "bird's eye", "birds eye", "overhead", "flyover",
              "fly over", "flying over"),
    "follow": ("follow", "follows", "following", "from behind", "over the shoulder", "third person",
               "chase cam"),
    "walk": ("first person", "pov", "point of view", "my eyes", "through my eyes"),
    "orbit": ("orbit", "orbits", "orbiting", "circling", "circle around", "360", "360 degrees"),
    "front": ("from the front", "front view", "toward the camera", "towards the camera",
              "facing the camera"),
}
SPEED_PHRASES: dict[float, tuple[str, ...]] = {
    1.0: ("slow", "slowly", "stroll", "strolling", "leisurely"),
    1.8: ("brisk", "briskly", "fast", "quick", "quickly", "hurry", "hurrying", "hurried", "in a hurry"),
    3.0: ("run", "runs", "running", "jog", "jogs", "jogging"),
}
FOV_PHRASES: dict[float, tuple[str, ...]] = {
    80.0: ("wide angle", "wide lens", "wide shot", "ultra wide"),
    35.0: ("telephoto", "telephoto lens", "long lens", "zoomed in"),
}
SIZE_PHRASES: dict[tuple[int, int], tuple[str, ...]] = {
    (3840, 2160): ("4k", "uhd", "2160p"),
    (1920, 1080): ("1080p", "full hd", "fhd"),
    (1280, 720): ("720p", "hd"),
    (854, 480): ("480p",),
}
ORIENTATION_PHRASES: dict[str, tuple[str, ...]] = {
    "portrait": ("vertical", "portrait", "9:16"),
    "landscape": ("horizontal", "landscape", "widescreen", "16:9"),
}
ACTOR_PHRASES = ("me", "myself", "with me", "me in it", "with me in it")
NOTE_PHRASES: dict[str, tuple[str, ...]] = {
    "canal noted (the amsterdam style walks along one)": ("canal", "canals"),
}

# Words that carry no setting of their own; they are neither understood nor unknown.
FILLER_WORDS = frozenset(
    """
    a an the this that these those some any
    walk walks walking walked wander wandering
    street streets road roads city town place
    down up through thru along across around into onto in on at of to from by for with within
    near past over under toward towards
    and or but then also plus
    my i im we our us you your it its
    am is are be being was were do does please can could would like want make create show render
    give generate let lets take
    video clip shot film footage movie scene camera view angle lens
    style styled inspired vibe vibes feel look looking kind sort mix mixed blend meets hybrid
    just very really quite bit little
    long lasting about approximately roughly
    time during while as when
    no not without never
    """.split()
)
_NEGATORS = frozenset({"no", "not", "without", "never"})
_NEGATION_REACH = 3  # "without any rain": a negator applies to a phrase at most this many tokens on

# Duration units in seconds; "m" is left out on purpose (metres or minutes?).
_UNIT_S = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
}
_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}


# --- result -------------------------------------------------------------------------------------
@dataclass
class PromptResult:
    """What a prompt became: the Shot, which phrase set what, and words that were not understood."""

    shot: Shot
    understood: list[tuple[str, str]]
    unknown: list[str]
    notes: list[str] = field(default_factory=list)
    actor_requested: bool = False


@dataclass(frozen=True)
class _Token:
    norm: str  # lower case, possessive "'s" and apostrophes removed
    start: int  # character span in the lower-cased prompt
    end: int


@dataclass(frozen=True)
class _Hit:
    """A matched phrase: tokens [start, end) and its effects as (key, value) pairs.

    Keys are dotted Shot fields ("look.when") or one of: style (name, weight | None), actor,
    note, orientation.
    """

    start: int
    end: int
    effects: tuple[tuple[str, Any], ...]
    negated: bool = False


# --- tokenizer ----------------------------------------------------------------------------------
_RAW_TOKEN = re.compile(r"[^\W_]+(?:[.:'][^\W_]+)*%?")
_DECADE = re.compile(r"^(1\d|20)\d0s$")
_SHORT_DECADE = re.compile(r"^\d0s$")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def _tokenize(lowered: str) -> list[_Token]:
    """Split into word tokens; '.' and ':' stay inside a token only between digits (7:30, 1.5)."""
    tokens = []
    for m in _RAW_TOKEN.finditer(lowered):
        raw, base = m.group(), m.start()
        if raw in ("a.m", "p.m"):
            tokens.append(_Token(raw, base, m.end()))
            continue
        pieces, last = [], 0
        for k, ch in enumerate(raw):
            if ch in ".:" and not (raw[k - 1].isdigit() and raw[k + 1].isdigit()):
                pieces.append((last, k))
                last = k + 1
        pieces.append((last, len(raw)))
        for a, b in pieces:
            text = raw[a:b]
            norm = (text[:-2] if text.endswith("'s") else text).replace("'", "")
            if _DECADE.match(norm) or (_SHORT_DECADE.match(norm) and lowered[base + a - 1:base + a] == "'"):
                norm = "decade:" + norm  # "1990s", "'80s" name an era, not a duration in seconds
            if norm:
                tokens.append(_Token(norm, base + a, base + b))
    return tokens


def _phrase_key(phrase: str) -> tuple[str, ...]:
    return tuple(t.norm for t in _tokenize(phrase.lower().translate(_QUOTES)))


# --- phrase table -------------------------------------------------------------------------------
def _build_phrase_table() -> dict[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """Every fixed phrase → its effects; a phrase with two meanings is a bug caught at import."""
    entries: list[tuple[str, tuple[tuple[str, Any], ...]]] = []

    def add(table: dict, key: str | None, prefixes: tuple[str, ...] = ()) -> None:
        for value, phrases in table.items():
            effect = ((key, value),) if key else ()
            for phrase in phrases:
                for prefix in ("",) + prefixes:
                    entries.append((f"{prefix} {phrase}".strip(), effect))

    for name, phrases in STYLE_PHRASES.items():
        entries.extend((p, (("style", (name, None)),)) for p in phrases)
    add(STREET_PHRASES, "camera.street")
    add(TIME_PHRASES, "look.when", _TIME_PREFIXES)
    add(CROWD_PHRASES, "look.crowd")
    add(WEATHER_PHRASES, "look.weather", _WEATHER_PREFIXES)
    add(RIG_PHRASES, "camera.rig")
    add(SPEED_PHRASES, "camera.speed_mps")
    add(FOV_PHRASES, "camera.fov_deg")
    add(SIZE_PHRASES, "output.size")
    add(ORIENTATION_PHRASES, "orientation")
    add(NOTE_PHRASES, "note")
    entries.extend((p, (("actor", True),)) for p in ACTOR_PHRASES)
    entries.append(("parisian boulevard", (("style", ("paris", None)), ("camera.street", "main"))))
    entries.append(("canal street in amsterdam",
                    (("style", ("amsterdam", None)), ("note", "canal noted (the amsterdam style walks along one)"))))

    table: dict[tuple[str, ...], tuple[tuple[str, Any], ...]] = {}
    for phrase, effects in entries:
        key = _phrase_key(phrase)
        if key in table and table[key] != effects:
            raise RuntimeError(f"prompt vocabulary: '{phrase}' has two meanings: {table[key]} and {effects}")
        table[key] = effects
    return table


_PHRASES = _build_phrase_table()
_MAX_PHRASE_TOKENS = max(len(k) for k in _PHRASES)


def vocabulary() -> dict[str, dict[str, list[str]]]:
    """The phrase tables by category ({'look.weather': {'fog': ['fog', 'misty', ...]}}), for help text."""
    tables = {
        "scene.style": STYLE_PHRASES, "camera.street": STREET_PHRASES, "look.when": TIME_PHRASES,
        "look.weather": WEATHER_PHRASES, "camera.rig": RIG_PHRASES, "camera.speed_mps": SPEED_PHRASES,
        "camera.fov_deg": FOV_PHRASES, "output.size": SIZE_PHRASES, "orientation": ORIENTATION_PHRASES,
    }
    out = {cat: {_fmt(v): list(p) for v, p in t.items()} for cat, t in tables.items()}
    out["actor"] = {"requested": list(ACTOR_PHRASES)}
    return out


# --- matchers: each returns a _Hit starting at token i, or None ---------------------------------
def _negates(lowered: str, tokens: list[_Token], negator_at: int, hit_start: int) -> bool:
    """'without any rain' negates; 'no, at night' does not (punctuation ends a negation)."""
    gap = lowered[tokens[negator_at].end:tokens[hit_start].start]
    return hit_start - negator_at <= _NEGATION_REACH and not re.search(r"[,;.!?]", gap)


def _match_phrase(toks: list[str], i: int) -> _Hit | None:
    for n in range(min(_MAX_PHRASE_TOKENS, len(toks) - i), 0, -1):
        effects = _PHRASES.get(tuple(toks[i:i + n]))
        if effects is not None:
            return _Hit(i, i + n, effects)
    return None


_CLOCK = re.compile(r"^(\d{1,2})(?:([:.])(\d{2}))?(am|pm)?$")
_PERIODS = {("in", "the", "morning"): "morning", ("in", "the", "afternoon"): "afternoon",
            ("in", "the", "evening"): "evening", ("at", "night"): "night", ("in", "the", "night"): "night"}


def _match_clock(toks: list[str], i: int) -> _Hit | None:
    """7pm, 7 pm, 7:30 p.m., 19:30, 7 in the evening, 7 o'clock → look.when 'HH:MM' (24 h)."""
    m = _CLOCK.match(toks[i])
    if not m:
        return None
    hour, sep, minute, suffix = int(m[1]), m[2], int(m[3] or 0), m[4]
    end = i + 1
    if suffix is None and end < len(toks) and toks[end] in ("am", "pm", "a.m", "p.m"):
        suffix, end = toks[end].replace(".", ""), end + 1
    if end < len(toks) and toks[end] == "oclock":
        sep, end = sep or "oclock", end + 1
    period = None
    if suffix is None:
        for words, name in _PERIODS.items():
            if tuple(toks[end:end + len(words)]) == words:
                period, end = name, end + len(words)
                break
    twelve_hour = suffix is not None or period is not None
    if not twelve_hour and sep not in (":", "oclock"):
        return None  # a bare number or a decimal such as 1.5: not a clock time
    if minute > 59 or (twelve_hour and not 1 <= hour <= 12) or hour > 23:
        shown = " ".join(toks[i:end])
        raise ShotError(f"prompt: '{shown}' is not a clock time: use 7pm, 7:30 pm, 7 in the evening or 19:30")
    if suffix == "am" or period == "morning":
        hour %= 12
    elif suffix == "pm" or period in ("afternoon", "evening"):
        hour = hour % 12 + 12
    elif period == "night":
        hour = 0 if hour == 12 else hour if hour < 5 else hour + 12
    return _Hit(i, end, (("look.when", f"{hour:02d}:{minute:02d}"),))


def _number(toks: list[str], i: int, allow_article: bool) -> tuple[float, int] | None:
    """A number at token i (15, 1.5, fifteen, forty five, and 'a'/'an' as 1) → (value, next index)."""
    if i >= len(toks):
        return None
    t = toks[i]
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t), i + 1
    if t in _ONES:
        return float(_ONES[t]), i + 1
    if t in _TENS:
        if i + 1 < len(toks) and toks[i + 1] in _ONES and 1 <= _ONES[toks[i + 1]] <= 9:
            return float(_TENS[t] + _ONES[toks[i + 1]]), i + 2
        return float(_TENS[t]), i + 1
    if allow_article and t in ("a", "an", "one"):
        return 1.0, i + 1
    return None


_NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)([a-z]+)$")


def _duration_term(toks: list[str], i: int) -> tuple[float, int, float] | None:
    """One amount of time at token i → (seconds, next index, unit seconds)."""
    if i >= len(toks):
        return None
    m = _NUMBER_UNIT.match(toks[i])
    if m and m[2] in _UNIT_S:
        unit = _UNIT_S[m[2]]
        return float(m[1]) * unit, i + 1, unit
    if toks[i] == "half":
        j = i + 1 + (i + 1 < len(toks) and toks[i + 1] in ("a", "an"))
        if j < len(toks) and toks[j] in _UNIT_S:
            return 0.5 * _UNIT_S[toks[j]], j + 1, _UNIT_S[toks[j]]
        return None
    num = _number(toks, i, allow_article=True)
    if num and num[1] < len(toks) and toks[num[1]] in _UNIT_S:
        unit = _UNIT_S[toks[num[1]]]
        return num[0] * unit, num[1] + 1, unit
    return None


def _match_duration(toks: list[str], i: int) -> _Hit | None:
    """15 seconds, 15s, 90 sec, half a minute, a minute and a half, 1 min 30 s → output.duration_s."""
    term = _duration_term(toks, i)
    if term is None:
        return None
    seconds, end, unit = term
    if toks[end:end + 3] == ["and", "a", "half"]:
        seconds, end = seconds + 0.5 * unit, end + 3
    else:
        j = end + (end < len(toks) and toks[end] == "and")
        more = _duration_term(toks, j)
        if more is not None and more[2] < unit:
            seconds, end = seconds + more[0], more[1]
    return _Hit(i, end, (("output.duration_s", seconds),))


def _match_seed(toks: list[str], i: int) -> _Hit | None:
    if toks[i] == "seed" and i + 1 < len(toks) and toks[i + 1].isdigit():
        return _Hit(i, i + 2, (("scene.seed", int(toks[i + 1])),))
    return None


def _match_resolution(toks: list[str], i: int) -> _Hit | None:
    """1920x1080 or 1920 x 1080 / 1920 by 1080 → output.size."""
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", toks[i])
    if m:
        return _Hit(i, i + 1, (("output.size", (int(m[1]), int(m[2]))),))
    if (toks[i].isdigit() and i + 2 < len(toks) and toks[i + 1] in ("x", "by") and toks[i + 2].isdigit()
            and len(toks[i]) >= 2 and len(toks[i + 2]) >= 2):
        return _Hit(i, i + 3, (("output.size", (int(toks[i]), int(toks[i + 2]))),))
    return None


def _match_style_weight(toks: list[str], i: int) -> _Hit | None:
    """'half tokyo', '70% tokyo', '70 percent tokyo' → a weighted style for a blend."""
    weight, j = None, i
    if toks[i] == "half":
        weight, j = 0.5, i + 1
    elif re.fullmatch(r"\d+(\.\d+)?%", toks[i]):
        weight, j = float(toks[i][:-1]) / 100.0, i + 1
    elif re.fullmatch(r"\d+(\.\d+)?", toks[i]) and i + 1 < len(toks) and toks[i + 1] == "percent":
        weight, j = float(toks[i]) / 100.0, i + 2
    if weight is None or j >= len(toks):
        return None
    hit = _match_phrase(toks, j)
    if hit is None or [k for k, _ in hit.effects] != ["style"]:
        return None
    name = hit.effects[0][1][0]
    return _Hit(i, hit.end, (("style", (name, weight)),))


# Tried in this order; the longest match wins and a tie goes to the earlier matcher.
_MATCHERS: tuple[Callable[[list[str], int], _Hit | None], ...] = (
    _match_phrase, _match_style_weight, _match_clock, _match_duration, _match_seed, _match_resolution,
)


# --- assembling a Shot --------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    return str(value)


def _label(effects: tuple[tuple[str, Any], ...]) -> str:
    parts = []
    for key, value in effects:
        if key == "style":
            name, weight = value
            parts.append(f"scene.style={name}" + ("" if weight is None else f" (weight {weight:g})"))
        elif key == "actor":
            parts.append("actor requested")
        elif key == "note":
            parts.append(value)
        elif key == "orientation":
            parts.append(f"output.size orientation={value}")
        else:
            parts.append(f"{key}={_fmt(value)}")
    return "; ".join(parts)


def _blend(styles: list[tuple[str, float | None]]) -> str:
    """One style → its name; several → 'tokyo:0.5,paris:0.5' (unweighted ones share what is left)."""
    merged: dict[str, float | None] = {}
    for name, weight in styles:
        if merged.get(name) is None:
            merged[name] = weight
    if len(merged) == 1:
        return next(iter(merged))
    given = sum(w for w in merged.values() if w is not None)
    free = [n for n, w in merged.items() if w is None]
    if free:
        if given >= 1.0:
            raise ShotError(f"prompt: style weights add up to {given:g} before {', '.join(free)}: "
                            "weights of a style blend must add up to 1 (half tokyo half paris)")
        weights = {n: (w if w is not None else (1.0 - given) / len(free)) for n, w in merged.items()}
    else:
        if given <= 0.0:
            raise ShotError("prompt: style weights add up to 0: give each style a share (half tokyo half paris)")
        weights = {n: w / given for n, w in merged.items()}
    return ",".join(f"{n}:{round(w, 3):g}" for n, w in weights.items())


def _nested(dotted: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = list(value) if isinstance(value, tuple) else value
    return out


def _oriented(size: tuple[int, int], orientation: str | None) -> tuple[int, int]:
    w, h = size
    if (orientation == "portrait" and w > h) or (orientation == "landscape" and h > w):
        return h, w
    return w, h


# --- public API ---------------------------------------------------------------------------------
def parse_prompt(text: str, base: Shot | None = None) -> PromptResult:
    """Read a prompt into a Shot built on `base` (defaults if None); fields it does not mention keep
    their base values.  Raises ShotError for an empty or over-long prompt or an out-of-range value."""
    if not isinstance(text, str):
        raise ShotError(f"prompt: expected text, got {type(text).__name__}")
    if len(text) > MAX_PROMPT_CHARS:
        raise ShotError(f"prompt: {len(text)} characters is too long (at most {MAX_PROMPT_CHARS})")
    lowered = text.lower().translate(_QUOTES)
    tokens = _tokenize(lowered)
    if not tokens:
        raise ShotError("prompt: empty prompt: describe the walk, e.g. 'a Tokyo side street at dusk in the rain'")
    base = base if base is not None else Shot()
    hits, unknown = _scan(lowered, tokens)

    def phrase(hit: _Hit) -> str:
        return lowered[tokens[hit.start].start:tokens[hit.end - 1].end]

    dotted, understood, notes, actor = _settings(hits, phrase, base)
    shot = _apply(base, dotted, hits, phrase)
    return PromptResult(shot=shot, understood=understood, unknown=unknown, notes=notes, actor_requested=actor)


def _scan(lowered: str, tokens: list[_Token]) -> tuple[list[_Hit], list[str]]:
    """Left to right, the longest match at each token; the rest is filler or unknown (first spelling, once)."""
    toks = [t.norm for t in tokens]
    hits: list[_Hit] = []
    unknown: list[str] = []
    negator_at: int | None = None
    i = 0
    while i < len(toks):
        best = None
        for matcher in _MATCHERS:
            hit = matcher(toks, i)
            if hit is not None and (best is None or hit.end > best.end):
                best = hit
        if best is not None:
            if negator_at is not None and _negates(lowered, tokens, negator_at, best.start):
                best = _Hit(negator_at, best.end, best.effects, negated=True)
            negator_at = None
            hits.append(best)
            i = best.end
            continue
        if toks[i] in _NEGATORS:
            negator_at = i
        elif toks[i] not in FILLER_WORDS:
            negator_at = None
            said = lowered[tokens[i].start:tokens[i].end]
            if said not in unknown:
                unknown.append(said)
        i += 1
    return hits, unknown


def _settings(
    hits: list[_Hit], phrase: Callable[[_Hit], str], base: Shot
) -> tuple[dict[str, Any], list[tuple[str, str]], list[str], bool]:
    """Fold the hits into dotted Shot settings (the last phrase wins, with a note), plus the report."""
    understood: list[tuple[str, str]] = []
    notes: list[str] = []
    dotted: dict[str, Any] = {}
    set_by: dict[str, str] = {}
    styles: list[tuple[str, float | None]] = []
    orientation: str | None = None
    actor = False
    for hit in hits:
        said = phrase(hit)
        if hit.negated:
            understood.append((said, "negated: nothing set"))
            notes.append(f"'{said}' is a negation; negations are not understood, so it set nothing")
            continue
        understood.append((said, _label(hit.effects)))
        for key, value in hit.effects:
            if key == "style":
                styles.append(value)
            elif key == "actor":
                actor = True
            elif key == "note":
                notes.append(value)
            elif key == "orientation":
                orientation = value
            else:
                if key in dotted and dotted[key] != value:
                    notes.append(f"'{said}' overrides '{set_by[key]}' for {key}: {_fmt(value)} is used")
                dotted[key], set_by[key] = value, said
    if styles:
        dotted["scene.style"] = _blend(styles)
        if "," in dotted["scene.style"]:
            notes.append(f"style blend: {dotted['scene.style']}")
    if orientation is not None or "output.size" in dotted:
        dotted["output.size"] = _oriented(dotted.get("output.size", tuple(base.output.size)), orientation)
    if actor:
        notes.append(ACTOR_NOTE)
    return dotted, understood, notes, actor


def _apply(base: Shot, dotted: dict[str, Any], hits: list[_Hit], phrase: Callable[[_Hit], str]) -> Shot:
    """Merge the settings into `base`; a rejected value is reported with the phrase that asked for it."""
    try:
        return base.updated(_nested(dotted), source="prompt")
    except ShotError as exc:
        for hit in hits:
            own = {k: v for k, v in hit.effects if "." in k and not hit.negated}
            if not own:
                continue
            try:
                base.updated(_nested(own), source="prompt")
            except ShotError as single:
                raise ShotError(f"prompt phrase '{phrase(hit)}': {str(single).removeprefix('prompt: ')}") from None
        raise exc from None


def prompt_to_shot(text: str, base: Shot | None = None) -> Shot:
    """The Shot a prompt describes (see `parse_prompt` for the understood/unknown report)."""
    return parse_prompt(text, base).shot
