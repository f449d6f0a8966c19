"""Time parse_text on a ~100-page plan: the seed's tasks repeated to about 150,000 characters.

Run: .venv/bin/python benchmarks/bench_importer.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from plandoc import parse_text

_REPO = Path(__file__).resolve().parents[1]
_CN = "一二三四五六七八九十"
TARGET_CHARS = 150_000


def _shared() -> Path:
    for candidate in (_REPO / ".." / "shared", _REPO / "shared", Path("/work/shared")):
        if (candidate / "seeds").is_dir():
            return candidate
    raise SystemExit("shared/ not found")


def _cn(n: int) -> str:
    if n <= 10:
        return _CN[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN[tens - 1]) + "十" + (_CN[ones - 1] if ones else "")


def build_plan() -> str:
    seed = (_shared() / "seeds" / "lianshui-2024-2025-plan.txt").read_text(encoding="utf-8")
    lines = seed.splitlines()
    start = lines.index("三、重点任务")
    end = lines.index("四、组织保障")
    head, tasks, tail = lines[: start + 1], lines[start + 1 : end], lines[end:]
    body: list[str] = []
    section = task = 0
    size = sum(len(x) for x in head + tail)
    while size < TARGET_CHARS:
        for line in tasks:
            if line.startswith("("):
                section += 1
                line = f"({_cn((section - 1) % 99 + 1)}){line.split(')', 1)[1]}"
            else:
                task += 1
                line = f"{task}. {line.split('. ', 1)[1]}"
            body.append(line)
            size += len(line)
    return "\n".join(head + body + tail)


def main() -> None:
    text = build_plan()
    parse_text(text)  # warm up the regex caches
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        result = parse_text(text)
        runs.append(time.perf_counter() - t0)
    tasks = len(result.document.tasks())
    print(
        f"plan: {len(text):,} characters (~{len(text) // 1500} pages), {tasks} tasks, "
        f"{len(result.document.sections)} sections, {len(result.warnings)} warnings"
    )
    print(
        f"parse_text: median {statistics.median(runs) * 1000:.0f} ms, best {min(runs) * 1000:.0f} ms "
        f"over {len(runs)} runs"
    )


if __name__ == "__main__":
    main()
