#!/usr/bin/env python3
"""Writes the benchmark notebooks: realistic data-science notebooks of a given number of
cells, deterministic (fixed seed, the same bytes on every run and machine).

    bench/gen_notebooks.py OUTDIR [CELLS...]      (default: 27 100 500 1000 2000 10000)
    bench/gen_notebooks.py --events ROWS OUTDIR

writes OUTDIR/nb_CELLS.ipynb; with --events, the data they read instead:
OUTDIR/data/events.csv with ROWS rows (and the empty OUTDIR/reports they plot into), so
that the notebooks run (bench/measure_run.py runs them). Each notebook is the first CELLS cells of one endless
stream, so a bigger notebook holds a smaller one: time(2N)/time(N) compares like with
like. The stream is a title, imports (with magics), constants and helper functions, then
sections of five cells: a `## ` heading and four code cells that derive a frame from the
previous section's frame (pandas style), define and call a function, mutate the frame
in place, and plot it; every few sections one combines results of earlier sections.
Outputs are of realistic size: printed text, DataFrame tables (text/plain + text/html),
and base64 PNG plots (random bytes: real PNGs do not compress either). The JSON is
written as nbformat writes it (indent 1, sorted keys, a final newline).

Only the standard library: it runs with any python3.
"""

import base64
import json
import os
import random
import sys

SEED = 20240609
DEFAULT_SIZES = (27, 100, 500, 1000, 2000, 10000)

TOPICS = ("revenue", "churn", "latency", "sessions", "returns", "inventory", "clicks",
          "tickets", "signups", "refunds", "orders", "visits")
COLUMNS = ("value", "amount", "count", "score", "ratio")


def lines(text):
    """nbformat's multiline string: a list of lines, each but the last ending in \\n."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


class Stream:
    """The endless cell stream; next_cells() yields lists of cells in order."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.count = 0       # execution counter
        self.ncells = 0      # cells made so far (for ids)

    # ---- cell constructors ----------------------------------------------------------

    def cell_id(self):
        self.ncells += 1
        return "%08x-%04d" % (self.rng.getrandbits(32), self.ncells % 10000)

    def markdown(self, text):
        return {"cell_type": "markdown", "id": self.cell_id(), "metadata": {},
                "source": lines(text)}

    def code(self, text, outputs, metadata=None):
        self.count += 1
        md = dict(metadata or {})
        # volatile metadata that clean strips, as Jupyter extensions leave it
        if self.rng.random() < 0.3:
            md["ExecuteTime"] = {"end_time": "2024-06-09T10:%02d:%02d.%03dZ" % (
                self.rng.randrange(60), self.rng.randrange(60), self.rng.randrange(1000)),
                "start_time": "2024-06-09T10:00:00.000Z"}
        if self.rng.random() < 0.1:
            md["scrolled"] = True
        if self.rng.random() < 0.05:
            md["collapsed"] = False
        for out in outputs:
            if out["output_type"] == "execute_result":
                out["execution_count"] = self.count
        return {"cell_type": "code", "execution_count": self.count, "id": self.cell_id(),
                "metadata": md, "outputs": outputs, "source": lines(text)}

    # ---- outputs ----------------------------------------------------------------------

    def stream_out(self, text):
        return {"name": "stdout", "output_type": "stream", "text": lines(text)}

    def table_out(self, rows, cols):
        rng = self.rng
        header = ["", *cols]
        data = [[str(i)] + ["%.4f" % rng.uniform(-1000, 1000) for _ in cols] for i in range(rows)]
        width = 12
        plain = "\n".join("".join(c.rjust(width) for c in row) for row in [header, *data])
        html = ['<div>', '<style scoped>', '    .dataframe tbody tr th:only-of-type {',
                '        vertical-align: middle;', '    }', '</style>',
                '<table border="1" class="dataframe">', '  <thead>',
                '    <tr style="text-align: right;">']
        html += ['      <th>%s</th>' % c for c in header]
        html += ['    </tr>', '  </thead>', '  <tbody>']
        for row in data:
            html += ['    <tr>', '      <th>%s</th>' % row[0]]
            html += ['      <td>%s</td>' % c for c in row[1:]]
            html += ['    </tr>']
        html += ['  </tbody>', '</table>', '<p>%d rows × %d columns</p>' % (rows, len(cols)),
                 '</div>']
        return {"data": {"text/html": lines("\n".join(html)), "text/plain": lines(plain)},
                "execution_count": None, "metadata": {}, "output_type": "execute_result"}

    def image_out(self):
        raw = self.rng.randbytes(self.rng.randrange(9000, 30000))
        png = b"\x89PNG\r\n\x1a\n" + raw
        return {"data": {"image/png": base64.b64encode(png).decode("ascii") + "\n",
                         "text/plain": ["<Figure size 800x400 with 1 Axes>"]},
                "metadata": {"needs_background": "light"}, "output_type": "display_data"}

    # ---- the notebook's opening and its sections -----------------------------------------

    def opening(self):
        yield self.markdown("# Weekly business metrics\n\nLoad the event extract, derive "
                            "features per topic, summarise and plot them.")
        yield self.code(
            "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n"
            "import os\nimport json\nimport numpy as np\nimport pandas as pd\n"
            "import matplotlib.pyplot as plt\n"
            "from sklearn.linear_model import LinearRegression\n"
            "from sklearn.model_selection import train_test_split", [])
        yield self.code(
            'DATA_PATH = "data/events.csv"\nTHRESHOLD = 0.25\nRANDOM_STATE = 42\n'
            'N_BINS = 30\nREPORT_DIR = "reports"', [])
        yield self.code(
            "def zscore(series):\n"
            '    """Standardise a numeric series."""\n'
            "    return (series - series.mean()) / series.std()\n\n\n"
            "def clip_outliers(frame, col, k=3.0):\n"
            "    z = zscore(frame[col])\n"
            "    return frame[np.abs(z) < k]\n\n\n"
            "def load_events(path):\n"
            "    frame = pd.read_csv(path, parse_dates=[\"ts\"])\n"
            "    frame = frame.sort_values(\"ts\").reset_index(drop=True)\n"
            "    return frame", [])
        yield self.code("frame_0 = load_events(DATA_PATH)\nframe_0.head()",
                        [self.table_out(5, COLUMNS)])

    def section(self, k):
        rng = self.rng
        topic = TOPICS[k % len(TOPICS)]
        col = COLUMNS[k % len(COLUMNS)]
        prev = "frame_%d" % (k - 1)
        cur = "frame_%d" % k
        yield self.markdown("## %s %d\n\nDerive the %s features and summarise them."
                            % (topic.capitalize(), k, topic))
        # 1: a new frame from the previous section's, with derived columns
        feats = ["%s[\"f%d_%d\"] = %s[\"%s\"] * %.2f + %s[\"%s\"].shift(%d).fillna(0)"
                 % (cur, k, j, cur, col, rng.uniform(0.1, 3), cur,
                    COLUMNS[(k + j + 1) % len(COLUMNS)], j + 1)
                 for j in range(rng.randrange(2, 6))]
        yield self.code(
            "%s = clip_outliers(%s.copy(), \"%s\")\n%s\n%s = %s[%s[\"%s\"] > THRESHOLD]\n"
            "print(len(%s), \"rows after filtering\")"
            % (cur, prev, col, "\n".join(feats), cur, cur, cur, col, cur),
            [self.stream_out("%d rows after filtering\n" % rng.randrange(1000, 90000))])
        # 2: a function and its result, shown as a table
        yield self.code(
            "def summarize_%d(frame, column):\n"
            "    grouped = frame.groupby(pd.cut(frame[column], N_BINS))\n"
            "    stats = grouped[column].agg([\"mean\", \"std\", \"count\"])\n"
            "    stats[\"z\"] = zscore(stats[\"mean\"])\n"
            "    stats[\"seed\"] = RANDOM_STATE\n"
            "    return stats.dropna()\n\n\n"
            "stats_%d = summarize_%d(%s, \"%s\")\nstats_%d.head(10)"
            % (k, k, k, cur, col, k),
            [self.table_out(10, ("mean", "std", "count", "z", "seed"))])
        # 3: changes in place, a magic, printed text
        magic = rng.choice(("%%time\n", "", "%time ", "!mkdir -p reports\n"))
        body = ("%s.dropna(inplace=True)\n%s[\"bucket\"] = pd.qcut(%s[\"%s\"], 4, labels=False)\n"
                "agg_%d = %s.groupby(\"bucket\")[\"%s\"].agg([\"mean\", \"max\"])\n"
                "print(agg_%d.round(3))" % (cur, cur, cur, col, k, cur, col, k))
        body = magic + body  # "%time " times the first line only, as in real notebooks
        text = "".join("bucket %d  %.3f  %.3f\n" % (b, rng.uniform(0, 9), rng.uniform(9, 99))
                       for b in range(4))
        yield self.code(body, [self.stream_out("          mean      max\n" + text)])
        # 4: a plot (or, every few sections, a model joining earlier sections' results)
        if k % 4 == 3 and k > 4:
            back = k - rng.randrange(2, 5)
            yield self.code(
                "combined_%d = pd.concat([stats_%d, stats_%d], keys=[\"now\", \"before\"])\n"
                "X_train, X_test, y_train, y_test = train_test_split(\n"
                "    %s[[\"%s\"]], %s[\"bucket\"], random_state=RANDOM_STATE)\n"
                "model_%d = LinearRegression().fit(X_train, y_train)\n"
                "print(\"R2\", round(model_%d.score(X_test, y_test), 3), len(combined_%d))"
                % (k, k, back, cur, col, cur, k, k, k),
                [self.stream_out("R2 %.3f %d\n" % (rng.random(), rng.randrange(20, 60)))])
        elif rng.random() < 0.55:
            yield self.code(
                "fig, ax = plt.subplots(figsize=(8, 4))\n"
                "ax.hist(%s[\"%s\"], bins=N_BINS, alpha=0.7)\n"
                "ax.set_title(\"%s %d: %s\")\n"
                "fig.savefig(os.path.join(REPORT_DIR, \"%s_%d.png\"))\nplt.show()"
                % (cur, col, topic, k, col, topic, k), [self.image_out()])
        else:
            yield self.code(
                "report_%d = {\"rows\": len(%s), \"mean\": float(stats_%d[\"mean\"].mean())}\n"
                "print(json.dumps(report_%d))" % (k, cur, k, k),
                [self.stream_out('{"rows": %d, "mean": %.4f}\n'
                                 % (rng.randrange(1000, 90000), rng.uniform(0, 100)))])

    def cells(self):
        yield from self.opening()
        k = 1
        while True:
            yield from self.section(k)
            k += 1


def notebook(ncells):
    stream = Stream(SEED)
    cells = []
    for cell in stream.cells():
        if len(cells) == ncells:
            break
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"codemirror_mode": {"name": "ipython", "version": 3},
                              "file_extension": ".py", "mimetype": "text/x-python",
                              "name": "python", "nbconvert_exporter": "python",
                              "pygments_lexer": "ipython3", "version": "3.11.2"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {},
                                                                        "version_major": 2,
                                                                        "version_minor": 0}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_events(outdir, rows):
    """OUTDIR/data/events.csv: a time stamp and the five numeric columns the sections
    read, as a day of events every few seconds; deterministic like the notebooks."""
    rng = random.Random(SEED)
    os.makedirs(os.path.join(outdir, "data"), exist_ok=True)
    os.makedirs(os.path.join(outdir, "reports"), exist_ok=True)
    path = os.path.join(outdir, "data", "events.csv")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("ts," + ",".join(COLUMNS) + "\n")
        for i in range(rows):
            seconds = i * 3 + rng.randrange(3)
            f.write("2024-06-%02d %02d:%02d:%02d,%.4f,%.2f,%d,%.4f,%.4f\n" % (
                1 + seconds // 86400 % 28, seconds // 3600 % 24, seconds // 60 % 60, seconds % 60,
                rng.gauss(1.0, 1.5), rng.uniform(0, 500), rng.randrange(100), rng.random(),
                rng.betavariate(2, 5)))
    os.replace(path + ".tmp", path)


def main(argv):
    if len(argv) >= 4 and argv[1] == "--events":
        write_events(argv[3], int(argv[2]))
        return 0
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: gen_notebooks.py OUTDIR [CELLS...]\n"
                         "       gen_notebooks.py --events ROWS OUTDIR\n")
        return 2
    outdir = argv[1]
    sizes = [int(a) for a in argv[2:]] or list(DEFAULT_SIZES)
    os.makedirs(outdir, exist_ok=True)
    for n in sizes:
        text = json.dumps(notebook(n), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        path = os.path.join(outdir, "nb_%d.ipynb" % n)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
