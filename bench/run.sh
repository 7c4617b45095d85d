#!/usr/bin/env bash
# The benchmark, in one command (bench/README.md, docs/performance.md):
#
#   bench/run.sh [--update-doc] [--callgrind] [--no-run | --run-only] [measure.py options...]
#
# builds a Release nb2pipe and the floor program in build-bench/, generates the benchmark
# notebooks into build-bench/data/ (deterministic, not committed), times every tool in
# one run and prints the tables; then the `run` table (bench/measure_run.py: Jupyter
# running notebooks against `nb2pipe run`, warm and --no-warm, and reruns). --no-run
# leaves the run table out, --run-only makes only it. --update-doc also replaces the
# results in docs/performance.md. Needs /usr/bin/time (apt package time),
# python3-nbformat, and for the run table python3-nbclient, python3-ipykernel,
# python3-pandas, python3-sklearn and python3-matplotlib; jupyter-nbconvert is optional
# (left out, with a note, when missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-bench"
update_doc=0
tables=both
args=()
for arg in "$@"; do
    case "$arg" in
        --update-doc) update_doc=1 ;;
        --no-run) tables=tools ;;
        --run-only) tables=run ;;
        *) args+=("$arg") ;;
    esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/time ] || missing+=(time)
/usr/bin/python3 -c 'import nbformat' 2>/dev/null || missing+=(python3-nbformat)
if [ "$tables" != tools ]; then
    for module in nbclient:python3-nbclient ipykernel:python3-ipykernel pandas:python3-pandas \
                  sklearn:python3-sklearn matplotlib:python3-matplotlib; do
        /usr/bin/python3 -c "import ${module%%:*}" 2>/dev/null || missing+=("${module#*:}")
    done
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    as_root apt-get install -y "${missing[@]}" >&2
fi
command -v jupyter >/dev/null || echo "note: jupyter-nbconvert is not installed; the nbconvert column is left out (optional: apt-get install jupyter-nbconvert python3-ipython)" >&2

echo "building (Release) in $build" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNB2PIPE_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target nb2pipe nb_bench_floor >/dev/null

echo "generating notebooks in $build/data" >&2
/usr/bin/python3 "$root/bench/gen_notebooks.py" "$build/data" 27 100 500 1000 2000 4000 10000
/usr/bin/python3 "$root/bench/gen_notebooks.py" --events 100000 "$build/data"

# replaces the text between <!-- NAME:begin --> and <!-- NAME:end --> in the doc
update_doc() {
    /usr/bin/python3 - "$root/docs/performance.md" "$1" "$2" <<'PY'
import sys
doc, results, name = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
text = open(doc).read()
begin, end = "<!-- %s:begin -->\n" % name, "<!-- %s:end -->" % name
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(head + begin + results + end + tail)
PY
    echo "updated docs/performance.md ($2)" >&2
}

if [ "$tables" != run ]; then
    /usr/bin/python3 "$root/bench/measure.py" --bin "$build" --data "$build/data" \
        --out "$build/results.md" "${args[@]}"
    [ "$update_doc" -eq 0 ] || update_doc "$build/results.md" bench
fi
if [ "$tables" != tools ]; then
    /usr/bin/python3 "$root/bench/measure_run.py" --bin "$build" --data "$build/data" \
        --out "$build/results-run.md"
    [ "$update_doc" -eq 0 ] || update_doc "$build/results-run.md" bench-run
fi
