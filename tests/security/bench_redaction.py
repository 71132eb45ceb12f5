"""Speed of the redaction over 1000 realistic messages and log lines (not a test).

Run: ``.venv/bin/python -m tests.security.bench_redaction``. Prints the best of 15 runs for the
whole set and per kind of text. The redaction runs on every message and every log line.
"""

from __future__ import annotations

import random
import timeit

from bot.redaction import mask_pii

PLAIN = [
    "你好",
    "我的POS机为什么被停用了",
    "怎么申请解除停用",
    "要准备什么资料",
    "审核要多久",
    "查一下申请进度",
    "都十天了还没审完",
    "打印机不出小票",
    "交易一直超时",
    "刷卡显示03是什么意思",
    "解除停用要收费吗",
    "申请要填密码吗",
    "谢谢",
    "转人工",
    "营业执照过期了怎么办",
    "密码错误3次",
]
IDS = [
    "商户号898310058121234",
    "终端号60013452",
    "单号JC202611180023",
    "尾号5678",
    "商户号 8983 1005 8121 234 终端 60013452",
    "2026-11-18提交的",
]
PERSONAL = [
    "手机13812345678",
    "我电话138 1234 5678",
    "密码是123456",
    "验证码 8 8 8 8 8 8",
    "卡号6222 0212 3456 7890 128",
    "身份证11010519491231002X",
    "密码，123456",
    "pwd=x",
]
LOGS = [
    "2026-11-30 05:00:01 DEBUG rasa.core.processor - Received user message '要准备什么资料' "
    'with intent \'{"name": "ask_required_documents", "confidence": 0.93}\' and entities \'[]\'',
    "2026-11-30 05:00:01 DEBUG rasa.core.policies.rule_policy - Current tracker state: "
    "[{'user': {'intent': 'greet'}, 'prev_action': {'action_name': 'action_listen'}}]",
    '127.0.0.1 - - [30/Nov/2026:05:00:01 +0000] "POST /webhooks/rest/webhook HTTP/1.1" 200 312',
    "2026-11-30 05:00:01 DEBUG rasa.core.actions.action - Calling action endpoint to run action "
    "'action_case_status'. timestamp 1764122400.1234567",
]
RUNS = 15


def realistic_texts(seed: int = 7) -> list[str]:
    """500 ordinary messages, 150 with ids, 100 with personal data, 250 log lines."""
    rng = random.Random(seed)
    texts = (
        [rng.choice(PLAIN) for _ in range(500)]
        + [rng.choice(IDS) for _ in range(150)]
        + [rng.choice(PERSONAL) for _ in range(100)]
        + [rng.choice(LOGS) for _ in range(250)]
    )
    rng.shuffle(texts)
    return texts


def best_seconds(texts: list[str], number: int = 1) -> float:
    """Best of ``RUNS`` timings of masking every text ``number`` times, per text."""
    runs = timeit.repeat(lambda: [mask_pii(t) for t in texts], number=number, repeat=RUNS)
    return min(runs) / (number * len(texts))


def main() -> None:
    texts = realistic_texts()
    for text in texts:
        mask_pii(text)  # the spaCy pipeline is built on first use
    print(f"{len(texts)} texts: {best_seconds(texts) * len(texts) * 1000:.1f} ms")
    for name, group in (("plain", PLAIN), ("ids", IDS), ("personal", PERSONAL), ("logs", LOGS)):
        print(f"  {name}: {best_seconds(group, number=5) * 1e6:.1f} us per text")


if __name__ == "__main__":
    main()
