#!/usr/bin/env bash
# Runs every row of docs/robustness.md's tables of bad input: each command
# (run in a scratch directory holding robustness_fixtures.bash's files)
# must exit with the row's status and print the row's message, exactly, on
# standard error. The rows of the last table (signals and kills) name the
# tests that run them. With CG_ROBUSTNESS_UPDATE=1 it writes what each
# command now prints back into the table instead (review the diff).
source "$(dirname "$0")/common.bash"
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
DOC="$CG_SOURCE_DIR/docs/robustness.md"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$WORK"
source "$HERE/robustness_fixtures.bash" >fixtures.log 2>&1 ||
    { cat fixtures.log; fail "could not make the fixtures"; }

# Rows "| n | fault | `command` | exit | `message` |" as n<TAB>command<TAB>exit<TAB>message.
python3 - "$DOC" >rows.tsv <<'PY'
import re, sys
row = re.compile(r"^\| (\d+) \| [^|]+ \| `([^`]+)` \| (\d+) \| (``? ?)(.*?)( ?``?) \|$")
for line in open(sys.argv[1], encoding="utf-8"):
    m = row.match(line.rstrip("\n"))
    if m:
        # A | inside a table cell is written \| (GitHub would split the cell).
        print("\t".join([m.group(1), m.group(2), m.group(3), m.group(5).replace("\\|", "|")]))
PY
n=$(wc -l <rows.tsv)
# A row that hangs fails; under make valgrind every command is ~50x slower.
limit=120
[[ -n ${CG_VALGRIND_LOGS:-} ]] && limit=3000
(( n >= 60 )) || fail "docs/robustness.md has $n runnable rows, expected at least 60"
while IFS=$'\t' read -r number command want message; do
    read -r -a words <<<"$command"
    [[ ${words[0]} == cgrad ]] || fail "row $number: the command must start with cgrad: $command"
    got=0
    timeout $limit "$CGRAD" "${words[@]:1}" >out.txt 2>err.txt </dev/null || got=$?
    if [[ ${CG_ROBUSTNESS_UPDATE:-} == 1 ]]; then
        printf '%s\t%s\t%s\n' "$number" "$got" "$(grep -m1 -v '^[[:space:]]*$' err.txt || true)" >>updates.tsv
        continue
    fi
    if [[ $got != "$want" ]]; then
        cat err.txt >&2
        fail "row $number ($command): exit $got, the table says $want"
    fi
    grep -qF -- "$message" err.txt || { cat err.txt >&2; fail "row $number ($command): the message differs from the table's: $message"; }
done <rows.tsv
if [[ ${CG_ROBUSTNESS_UPDATE:-} == 1 ]]; then
    python3 - "$DOC" updates.tsv <<'PY'
import re, sys
doc, updates = sys.argv[1], dict()
for line in open(sys.argv[2], encoding="utf-8"):
    n, code, msg = line.rstrip("\n").split("\t", 2)
    updates[n] = (code, msg.rstrip())
out = []
for line in open(doc, encoding="utf-8").read().split("\n"):
    m = re.match(r"^\| (\d+) \| ([^|]+) \| (`[^`]+`) \| \d+ \| .* \|$", line)
    if m and m.group(1) in updates:
        code, msg = updates[m.group(1)]
        fence, pad = ("``", " ") if "`" in msg else ("`", "")
        msg = msg.replace("|", "\\|")
        line = f"| {m.group(1)} | {m.group(2)} | {m.group(3)} | {code} | {fence}{pad}{msg}{pad}{fence} |"
    out.append(line)
open(doc, "w", encoding="utf-8").write("\n".join(out))
PY
    echo "robustness: $n rows written back to docs/robustness.md"
    exit 0
fi
echo "robustness: $n rows ok"
