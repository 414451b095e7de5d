"""A small weighted grammar of Simplified-Chinese sentences whose next-word probabilities are known exactly.

The shipped tiny model (`llmlab/checkpoints/tiny-zh`) is trained on sentences sampled from this grammar, so we
can compare what the model learned with the truth. The lecture's top-k example is built in: after
"南京大学计算机学院的课程有" the next word is 算法 with probability 0.4, 操作系统 0.3, 计算机 0.2, 数据 0.05.

How the grammar is shaped, and why:
- A sentence is a chain of clauses: after each clause comes "，" (another clause, p=0.6) or "。" (end, p=0.4).
  Clauses are chosen independently, so after "，" the grammar forgets everything said so far.
- The single most likely clause is "南京大学计算机学院的课程有算法和操作系统". Greedy decoding therefore ends
  every clause with "，" (0.6 > 0.4) and then repeats that clause forever: the repetition loop that notebook 02
  breaks with repetition penalties and no_repeat_ngram. Sampling instead gives varied sentences.
- Lists ("算法、计算机和数据") draw their items without replacement, so sampled text does not repeat itself.

A *word* here is one terminal of the grammar (punctuation marks are words too).
"""
import random
from collections import defaultdict

LECTURE_PREFIX = "南京大学计算机学院的课程有"
LECTURE_DISTRIBUTION = {"算法": 0.4, "操作系统": 0.3, "计算机": 0.2, "数据": 0.05}  # the slide's numbers
END = "</s>"  # stands for "the sentence ends here" in next-word distributions

P_MORE_CLAUSES = 0.6  # after a clause: "，" and another clause, else "。"
P_LIST_AND = 0.45     # after a list item: "和" and one last item
P_LIST_MORE = 0.25    # after a list item: "、" and the list goes on
P_LIST_END = 0.30     # after a list item: the list ends here

# ---- the words, with their weights ----------------------------------------------------------------------

UNIVERSITIES = {"南京大学": 0.5, "东南大学": 0.15, "清华大学": 0.15, "北京大学": 0.1, "浙江大学": 0.1}
UNIVERSITY_CITY = {"南京大学": "南京", "东南大学": "南京", "清华大学": "北京", "北京大学": "北京", "浙江大学": "杭州"}
SCHOOLS = {"计算机学院": 0.45, "数学系": 0.15, "文学院": 0.15, "商学院": 0.15, "物理学院": 0.1}
COURSES = {  # the courses of each school; the lecture's four come first, the other 0.05 is split over three
    "计算机学院": {"算法": 0.4, "操作系统": 0.3, "计算机": 0.2, "数据": 0.05,
                  "编译原理": 0.02, "人工智能": 0.015, "软件工程": 0.015},
    "数学系": {"数学分析": 0.4, "线性代数": 0.3, "概率论": 0.2, "几何": 0.1},
    "文学院": {"古代文学": 0.4, "现代文学": 0.3, "语言学": 0.2, "写作": 0.1},
    "商学院": {"经济学": 0.4, "管理学": 0.3, "会计": 0.2, "金融": 0.1},
    "物理学院": {"力学": 0.4, "光学": 0.3, "电磁学": 0.2, "量子力学": 0.1},
}
PEOPLE = {"我": 0.3, "小明": 0.2, "小红": 0.15, "我们": 0.15, "同学们": 0.1, "老师": 0.1}
STUDENTS = {"我": 0.4, "小明": 0.35, "小红": 0.25}
PLACES = {  # where people are, and what they do there
    "图书馆": (0.3, {"看书": 0.5, "学习": 0.3, "写作业": 0.2}),
    "教室": (0.25, {"上课": 0.6, "学习": 0.2, "写作业": 0.2}),
    "食堂": (0.2, {"吃饭": 0.8, "聊天": 0.2}),
    "操场": (0.15, {"跑步": 0.6, "踢足球": 0.4}),
    "宿舍": (0.1, {"睡觉": 0.5, "聊天": 0.3, "写作业": 0.2}),
}
CAMPUS = {"图书馆": 0.4, "食堂": 0.3, "操场": 0.2, "校园": 0.1}
CAMPUS_ADJECTIVES = {"大": 0.4, "漂亮": 0.3, "安静": 0.2, "热闹": 0.1}
FOODS = {"包子": 0.25, "面条": 0.2, "饺子": 0.2, "米饭": 0.15, "火锅": 0.1, "汤包": 0.05, "盐水鸭": 0.05}
CITIES = {"南京": 0.4, "北京": 0.25, "上海": 0.2, "杭州": 0.15}
CITY_FOODS = {
    "南京": {"盐水鸭": 0.5, "鸭血粉丝汤": 0.3, "汤包": 0.2},
    "北京": {"烤鸭": 0.7, "炸酱面": 0.3},
    "上海": {"小笼包": 0.6, "生煎": 0.4},
    "杭州": {"西湖醋鱼": 0.6, "龙井虾仁": 0.4},
}
DAYS = {"今天": 0.5, "明天": 0.3, "周末": 0.2}
WEATHER = {("下雨",): 0.3, ("很", "热"): 0.2, ("很", "冷"): 0.2, ("下雪",): 0.1, ("的", "天气", "很", "好"): 0.2}
TRIPS = {"旅游": 0.5, "看看": 0.3, "玩": 0.2}


def _choice(weights: dict) -> list:
    """Rules that pick one word of `weights`."""
    return [(w, (word,)) for word, w in weights.items()]


# ---- the grammar: nonterminal -> [(weight, symbols)]; a symbol is a word or a nonterminal -------------------
# Nonterminal names are ASCII, words are Chinese. A list of distinct items is a tuple (see _list).


def _list(category: str, used: tuple = (), more: bool = True) -> tuple:
    """The nonterminal "a list of items of `category`, none in `used`"; `more=False` means one last item."""
    return ("list", category, used, more)


GRAMMAR = {
    "Sentence": [(1.0, ("Clauses", "。"))],
    "Clauses": [(1 - P_MORE_CLAUSES, ("Clause",)), (P_MORE_CLAUSES, ("Clause", "，", "Clauses"))],
    "Clause": [
        (0.30, ("University", "SchoolCourses")),                  # 南京大学计算机学院的课程有算法和操作系统
        (0.06, ("UniversityInCity",)),                            # 南京大学在南京
        (0.06, ("University", "的", "Campus", "很", "CampusAdj")),  # 南京大学的图书馆很大
        (0.14, ("Person", "在", "PlaceActivity")),                 # 小明在图书馆看书
        (0.12, ("Person", "喜欢", "吃", _list("food"))),           # 我喜欢吃包子、饺子和面条
        (0.08, ("CityFood", "很", "好吃")),                        # 南京的盐水鸭很好吃
        (0.12, ("Day", "City", "Weather")),                       # 今天南京下雨
        (0.06, ("Student", "是", "University", "School", "的", "学生")),  # 小明是南京大学数学系的学生
        (0.06, ("Person", "想", "去", "City", "Trip")),              # 我想去杭州旅游
    ],
    "University": _choice(UNIVERSITIES),
    "School": _choice(SCHOOLS),
    "SchoolCourses": [(w, (school, "的", "课程", "有", _list(school))) for school, w in SCHOOLS.items()],
    "UniversityInCity": [(w, (u, "在", UNIVERSITY_CITY[u])) for u, w in UNIVERSITIES.items()],
    "Campus": _choice(CAMPUS),
    "CampusAdj": _choice(CAMPUS_ADJECTIVES),
    "Person": _choice(PEOPLE),
    "Student": _choice(STUDENTS),
    "PlaceActivity": [(w * a, (place, act)) for place, (w, acts) in PLACES.items() for act, a in acts.items()],
    "CityFood": [(w * f, (city, "的", food)) for city, w in CITIES.items() for food, f in CITY_FOODS[city].items()],
    "City": _choice(CITIES),
    "Day": _choice(DAYS),
    "Weather": [(w, words) for words, w in WEATHER.items()],
    "Trip": _choice(TRIPS),
}
LISTS = {**COURSES, "food": FOODS}  # the item weights of each ("list", category)


def _list_rules(category: str, used: tuple, more: bool) -> list:
    """Rules of a list of distinct items of `category`, none of them in `used`.

    Each rule is one first item and what follows it: "和" and one last item, "、" and more items, or nothing.
    `more=False` is that one last item."""
    items = {w: p for w, p in LISTS[category].items() if w not in used}
    total = sum(items.values())
    rules = []
    for item, p in items.items():
        rest = used + (item,)
        tails = [(1.0, ())]
        if more and len(items) > 1:
            tails = [(P_LIST_AND, ("和", _list(category, rest, more=False))),
                     (P_LIST_MORE, ("、", _list(category, rest))),
                     (P_LIST_END, ())]
        rules += [(p / total * q, (item,) + tail) for q, tail in tails]
    return rules


def _rules(symbol) -> list:
    """[(probability, symbols)] for a nonterminal; the probabilities sum to 1."""
    if isinstance(symbol, tuple):
        _, category, used, more = symbol
        return _list_rules(category, used, more)
    rules = GRAMMAR[symbol]
    total = sum(w for w, _ in rules)
    return [(w / total, symbols) for w, symbols in rules]


def is_word(symbol) -> bool:
    return isinstance(symbol, str) and symbol not in GRAMMAR


def words() -> list[str]:
    """Every word the grammar can produce, longest first (the order a longest-match segmenter tries them)."""
    found = {s for rules in GRAMMAR.values() for _, symbols in rules for s in symbols if is_word(s)}
    found |= {w for items in LISTS.values() for w in items} | {"和", "、"}  # list items and joiners
    return sorted(found, key=lambda w: (-len(w), w))


# ---- sampling ---------------------------------------------------------------------------------------------

def sample_words(rng: random.Random, symbol="Sentence") -> list[str]:
    """The words of one random `symbol` (a whole sentence by default), drawn with `rng`: same seed, same words."""
    if is_word(symbol):
        return [symbol]
    rules = _rules(symbol)
    _, symbols = rng.choices(rules, weights=[p for p, _ in rules])[0]
    return [w for s in symbols for w in sample_words(rng, s)]


def sentences(rng: random.Random, n: int | None = None):
    """Yield `n` sentences (forever if n is None) as strings, e.g. "今天南京下雨，我想去杭州旅游。"."""
    count = 0
    while n is None or count < n:
        yield "".join(sample_words(rng))
        count += 1


# ---- the exact next-word distribution ---------------------------------------------------------------------

def next_word_distribution(prefix: str) -> dict[str, float]:
    """P(next word | the sentence starts with `prefix`), exactly, by walking every derivation of the grammar.

    Only derivations in which `prefix` ends at a word boundary count. END is the end of the sentence.
    Raises ValueError if no sentence starts with `prefix` that way."""
    found = defaultdict(float)
    _walk(("Sentence",), prefix, 1.0, found)
    total = sum(found.values())
    if total == 0:
        raise ValueError(f"no sentence of the grammar starts with {prefix!r} (at a word boundary)")
    return {w: p / total for w, p in sorted(found.items(), key=lambda kv: -kv[1])}


def _walk(stack: tuple, rest: str, p: float, found: dict):
    """Expand the leftmost symbol of `stack` while the words produced match `rest`; at the end of `rest`,
    add p to the next word's probability."""
    if not stack:  # the sentence is complete
        if not rest:
            found[END] += p
        return
    head, tail = stack[0], stack[1:]
    if not is_word(head):
        for q, symbols in _rules(head):
            _walk(symbols + tail, rest, p * q, found)
    elif not rest:
        found[head] += p
    elif rest.startswith(head):
        _walk(tail, rest[len(head):], p, found)
