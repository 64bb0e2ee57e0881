#!/usr/bin/python3
"""chart.py RATIOS_TSV OUT_PNG — bar chart of each hot path's ratio to its same-run ceiling,
with the issue's target for that path drawn as a marker. RATIOS_TSV lines:
scenario<TAB>ratio<TAB>target (target empty when there is none)."""
import sys

import matplotlib

matplotlib.use("Agg")  # no display
import matplotlib.pyplot as plt  # noqa: E402

rows = []
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and parts[1]:
            rows.append((parts[0], float(parts[1]), float(parts[2]) if len(parts) > 2 and parts[2] else None))

fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.5))
names = [r[0] for r in rows]
ratios = [r[1] for r in rows]
colors = ["#2e7d32" if r[2] is not None and r[1] >= r[2] else ("#c62828" if r[2] is not None else "#607d8b") for r in rows]
y = range(len(rows))
ax.barh(y, ratios, color=colors)
for i, r in enumerate(rows):
    ax.text(r[1] + 0.01, i, f"{r[1]:.3f}", va="center", fontsize=9)
    if r[2] is not None:
        ax.plot([r[2], r[2]], [i - 0.4, i + 0.4], color="black", linewidth=2)
ax.set_yticks(list(y))
ax.set_yticklabels(names)
ax.invert_yaxis()
ax.set_xlim(0, max([1.0] + [r[1] + 0.1 for r in rows]))
ax.set_xlabel("throughput ÷ same-run ceiling (black mark: target; green met, red not met)")
ax.set_title("Tessera make bench — ratios to this machine's ceilings")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
