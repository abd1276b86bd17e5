"""Two seeded generators for the capabilities no shipped corpus covers.

* Knowledge-grounded dialogue (KdConv analogue): a fictional knowledge base of films, songs and
  sights (names assembled from syllable pools, so nothing real is claimed) and 2-4-turn dialogues
  whose final reply states one knowledge triple, phrased by one of >= 5 paraphrase templates per
  intent. Like KdConv, the reply is grounded in the given triples and its wording varies.
* Arithmetic word problems (Math23K analogue): 32 one-variable templates with seeded integers,
  decimals and percentages; the gold equation is written ``x=...`` and the answer computed.
"""

from __future__ import annotations

import random
from typing import Any

# --- dialogue ----------------------------------------------------------------------------------

_NAME_PARTS = {
    "film": (["青", "远", "夜", "风", "星", "海", "雪", "山", "光", "梦", "月", "云"],
             ["之城", "归途", "长歌", "来信", "彼岸", "旅人", "密语", "灯塔", "故事", "时光"]),
    "music": (["晚", "晴", "南", "北", "白", "蓝", "初", "微", "春", "秋", "雨", "花"],
              ["小调", "情书", "回声", "序曲", "心事", "街角", "温柔", "远方", "日记", "微光"]),
    "travel": (["云", "翠", "金", "石", "龙", "凤", "清", "碧", "松", "鹿", "玉", "桃"],
               ["湖公园", "山景区", "古镇", "峡谷", "湿地", "寺", "岛", "瀑布", "草原", "老街"]),
}
_PEOPLE = ["林", "陈", "周", "吴", "郑", "孙", "马", "朱", "胡", "何", "高", "罗"]
_GIVEN = ["子涵", "一鸣", "晓雯", "浩然", "思远", "雨桐", "嘉怡", "志强", "书言", "安琪", "明轩", "若曦"]
_CITIES = ["江州", "临安", "青城", "云川", "海宁", "白沙", "东阳", "北原", "南浦", "西岭"]
_GENRES = ["爱情", "科幻", "悬疑", "喜剧", "纪录", "动画"]
_STYLES = ["民谣", "摇滚", "流行", "爵士", "古风", "电子"]

# predicate -> (value maker, question paraphrases, reply paraphrases); {s} subject, {o} object.
_INTENTS: dict[str, dict[str, tuple[Any, list[str], list[str]]]] = {
    "film": {
        "导演": ("person", ["{s}的导演是谁？", "谁拍的{s}？", "{s}是哪位导演执导的？", "你知道{s}的导演吗？", "{s}由谁导演？"],
               ["{s}的导演是{o}。", "这部电影是{o}执导的。", "{o}导演了{s}。", "是{o}拍的。", "{s}由{o}执导。"]),
        "主演": ("person", ["{s}的主演是谁？", "谁演了{s}？", "{s}里主角是谁演的？", "{s}有哪些演员？", "{s}的主演你知道吗？"],
               ["{s}的主演是{o}。", "主演是{o}。", "{o}出演了{s}。", "是{o}主演的。", "这部片由{o}主演。"]),
        "上映年份": ("year", ["{s}是哪年上映的？", "{s}什么时候上映？", "{s}的上映时间是？", "{s}哪一年出的？", "{s}上映多久了？"],
                 ["{s}于{o}年上映。", "它是{o}年上映的。", "上映时间是{o}年。", "{o}年上映的。", "{s}在{o}年和观众见面。"]),
        "类型": ("genre", ["{s}是什么类型的电影？", "{s}属于哪类片？", "{s}讲的是什么题材？", "{s}是哪种风格的电影？", "{s}算什么片？"],
               ["{s}是一部{o}片。", "这是{o}电影。", "它属于{o}类型。", "{s}是{o}题材。", "算是{o}片。"]),
    },
    "music": {
        "歌手": ("person", ["{s}是谁唱的？", "{s}的歌手是谁？", "谁演唱了{s}？", "{s}原唱是谁？", "你知道{s}是谁唱的吗？"],
               ["{s}是{o}唱的。", "这首歌的歌手是{o}。", "{o}演唱了{s}。", "原唱是{o}。", "是{o}的歌。"]),
        "发行年份": ("year", ["{s}是哪年发行的？", "{s}什么时候发的？", "{s}的发行时间是？", "{s}出了多少年了？", "{s}哪一年发行？"],
                 ["{s}发行于{o}年。", "它是{o}年发行的。", "发行时间是{o}年。", "{o}年发的。", "{s}在{o}年推出。"]),
        "风格": ("style", ["{s}是什么风格的歌？", "{s}属于哪种曲风？", "{s}是什么类型的音乐？", "{s}的曲风怎么样？", "{s}算哪类歌？"],
               ["{s}是一首{o}歌曲。", "这首歌是{o}风格。", "曲风是{o}。", "{s}属于{o}。", "算是{o}音乐。"]),
    },
    "travel": {
        "所在城市": ("city", ["{s}在哪个城市？", "{s}位于哪里？", "{s}在什么地方？", "去{s}要到哪个城市？", "{s}属于哪座城市？"],
                 ["{s}位于{o}。", "它在{o}。", "{s}在{o}市。", "要去{o}。", "{s}坐落在{o}。"]),
        "门票": ("price", ["{s}门票多少钱？", "去{s}要买票吗？", "{s}的票价是多少？", "{s}门票贵吗？", "{s}进门要花多少钱？"],
               ["{s}的门票是{o}元。", "票价{o}元。", "门票要{o}元。", "{o}元一张票。", "进{s}需要{o}元。"]),
        "开放时间": ("hours", ["{s}几点开门？", "{s}的开放时间是？", "{s}什么时候开放？", "{s}营业到几点？", "去{s}几点合适？"],
                 ["{s}的开放时间是{o}。", "开放时间为{o}。", "{s}每天{o}开放。", "时间是{o}。", "{o}都可以去。"]),
    },
}
_OPENERS = ["你好！", "最近在忙什么？", "有空聊聊吗？", "想问你点事。", "嗨，在吗？"]
_OPENER_REPLIES = ["你好，请说。", "在的，有什么想聊的？", "好啊，你说。", "当然可以。", "在呢。"]


def _value(kind: str, rng: random.Random) -> str:
    if kind == "person":
        return rng.choice(_PEOPLE) + rng.choice(_GIVEN)
    if kind == "year":
        return str(rng.randint(1985, 2020))
    if kind == "genre":
        return rng.choice(_GENRES)
    if kind == "style":
        return rng.choice(_STYLES)
    if kind == "city":
        return rng.choice(_CITIES)
    if kind == "price":
        return str(rng.choice([0, 20, 35, 40, 50, 60, 80, 120]))
    return f"{rng.randint(6, 9)}:00到{rng.randint(17, 21)}:00"


def knowledge_base(seed: int, per_domain: int = 40) -> list[dict[str, Any]]:
    """Fictional entities: ``{"domain", "name", "triples": [[s, p, o], ...]}``, names unique."""
    rng = random.Random(seed)
    entities, seen = [], set()
    for domain, (heads, tails) in _NAME_PARTS.items():
        names = [h + t for h in heads for t in tails]
        rng.shuffle(names)
        for name in names[:per_domain]:
            if name in seen:
                continue
            seen.add(name)
            triples = [[name, p, _value(kind, rng)] for p, (kind, _, _) in _INTENTS[domain].items()]
            entities.append({"domain": domain, "name": name, "triples": triples})
    return entities


def dialogues(entities: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` dialogues ``{"context": [...], "knowledge": [[s,p,o]...], "response"}`` about ``entities``."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        entity = rng.choice(entities)
        domain, name = entity["domain"], entity["name"]
        triples = entity["triples"]
        context: list[str] = []
        turns = rng.randint(2, 4)  # the number of utterances including the reply
        if turns >= 3:
            context += [rng.choice(_OPENERS)]
        if turns == 4:
            context += [rng.choice(_OPENER_REPLIES)]
        _, predicate, obj = rng.choice(triples)
        _, questions, replies = _INTENTS[domain][predicate]
        context.append(rng.choice(questions).format(s=name))
        response = rng.choice(replies).format(s=name, o=obj)
        if turns == 2:  # a two-utterance dialogue: one question, one answer
            context = context[-1:]
        out.append({"context": context, "knowledge": triples, "response": response})
    return out


# --- arithmetic word problems -------------------------------------------------------------------

# (text with {a},{b},{c} slots, equation skeleton in the same slots, number kinds).
MATH_TEMPLATES: list[tuple[str, str, str]] = [
    ("小明有{a}个苹果，又买了{b}个，现在一共有多少个苹果？", "x={a}+{b}", "ii"),
    ("书架上有{a}本书，借走了{b}本，还剩多少本？", "x={a}-{b}", "ii"),
    ("每盒铅笔有{a}支，{b}盒共有多少支？", "x={a}*{b}", "ii"),
    ("{a}个同学平均分{b}块糖，每人分到几块？", "x={b}/{a}", "ii"),
    ("一件衣服原价{a}元，打{b}折后卖多少元？", "x={a}*{b}/10", "id"),
    ("一本书{a}页，已经看了{b}%，还剩多少页没看？", "x={a}*(1-{b}%)", "ip"),
    ("工厂计划生产{a}个零件，已经完成了{b}%，完成了多少个？", "x={a}*{b}%", "ip"),
    ("一辆汽车每小时行驶{a}千米，{b}小时行驶多少千米？", "x={a}*{b}", "id"),
    ("甲乙两地相距{a}千米，一辆车每小时行{b}千米，几小时到达？", "x={a}/{b}", "ii"),
    ("长方形长{a}米，宽{b}米，面积是多少平方米？", "x={a}*{b}", "dd"),
    ("长方形长{a}厘米，宽{b}厘米，周长是多少厘米？", "x=({a}+{b})*2", "ii"),
    ("正方形边长{a}分米，周长是多少分米？", "x={a}*4", "d"),
    ("妈妈买了{a}千克大米，每千克{b}元，付了{c}元，应找回多少元？", "x={c}-{a}*{b}", "idi"),
    ("一个班有{a}人，男生占{b}%，女生有多少人？", "x={a}*(1-{b}%)", "ip"),
    ("果园里有苹果树{a}棵，梨树比苹果树多{b}棵，梨树有多少棵？", "x={a}+{b}", "ii"),
    ("学校有足球{a}个，篮球比足球少{b}个，篮球有多少个？", "x={a}-{b}", "ii"),
    ("小红存了{a}元，小刚存的钱是小红的{b}倍，小刚存了多少元？", "x={a}*{b}", "ii"),
    ("一桶油重{a}千克，用去{b}千克后，又用去{c}千克，还剩多少千克？", "x={a}-{b}-{c}", "iii"),
    ("修一条长{a}米的路，每天修{b}米，修了{c}天，还剩多少米？", "x={a}-{b}*{c}", "iii"),
    ("商店运来{a}箱水果，每箱{b}千克，卖出{c}千克，还剩多少千克？", "x={a}*{b}-{c}", "iii"),
    ("一个数的{a}倍是{b}，这个数是多少？", "x={b}/{a}", "ii"),
    ("{a}的{b}%是多少？", "x={a}*{b}%", "ip"),
    ("一件商品先涨价{b}%，原价{a}元，现价多少元？", "x={a}*(1+{b}%)", "ip"),
    ("某商品降价{b}%后是{a}元，原价多少元？", "x={a}/(1-{b}%)", "ip"),
    ("三个数的平均数是{a}，其中两个数是{b}和{c}，第三个数是多少？", "x={a}*3-{b}-{c}", "iii"),
    ("一根绳子长{a}米，剪去{b}米后，再平均分成{c}段，每段多少米？", "x=({a}-{b})/{c}", "iii"),
    ("一个水池每小时进水{a}吨，排水{b}吨，{c}小时后水池里增加多少吨水？", "x=({a}-{b})*{c}", "iii"),
    ("王叔叔每月工资{a}元，每月存{b}%，一年存多少元？", "x={a}*{b}%*12", "ip"),
    ("圆的半径是{a}厘米，面积是多少平方厘米？（π取3.14）", "x=3.14*{a}*{a}", "i"),
    ("一列火车{a}小时行驶了{b}千米，平均每小时行驶多少千米？", "x={b}/{a}", "ii"),
    ("小华{a}分钟做了{b}道题，照这样的速度，{c}分钟做多少道题？", "x={b}/{a}*{c}", "iii"),
    ("一瓶饮料{a}元，买{b}瓶送1瓶，买{b}瓶实际每瓶多少元？", "x={a}*{b}/({b}+1)", "ii"),
]


def _number(kind: str, rng: random.Random) -> str:
    if kind == "i":
        return str(rng.randint(2, 99))
    if kind == "d":
        return f"{rng.randint(1, 99) / 10:.1f}".rstrip("0").rstrip(".") if rng.random() < 0.2 else f"{rng.randint(11, 99) / 10:.1f}"
    return str(rng.choice([5, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60, 75, 80]))  # percentages


def math_problems(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` problems ``{"text", "equation", "ans", "template"}``; answers from the safe evaluator."""
    from tenfold.cuge.metrics import safe_arithmetic

    rng = random.Random(seed)
    out = []
    while len(out) < count:
        number = rng.randrange(len(MATH_TEMPLATES))
        text, equation, kinds = MATH_TEMPLATES[number]
        values = {slot: _number(kind, rng) for slot, kind in zip("abc", kinds, strict=False)}
        if number == 4:  # a discount "打b折" takes a single digit 1-9
            values["b"] = str(rng.randint(5, 9))
        filled = equation.format(**values)
        answer = safe_arithmetic(filled)
        if answer is None:
            continue
        out.append({"text": text.format(**values), "equation": filled, "ans": round(answer, 6), "template": number})
    return out
