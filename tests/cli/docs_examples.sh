#!/usr/bin/env bash
# The JSON examples in docs/model-file.md and README.md must stay true:
# - every ```json block that is a complete model file (has "layers") passes
#   `cgrad info` (exit 0);
# - every ```json block marked <!-- error-example --> fails `cgrad info` with
#   exit 2 and exactly the message of the ```console block that follows it;
# - a ```console block right after a json block ("$ cgrad info NAME.json"
#   then the output) must match what cgrad prints for that file.
source "$(dirname "$0")/common.bash"

# split_blocks MARKDOWN: writes each fenced block of MARKDOWN to
# $WORK/blocks/<tag>.<n> and prints one line per block:
#   <n> <language> <error-example marker: 0/1> <follows the previous block
#   with only blank lines between: 0/1> <line of the opening fence>
split_blocks() {
    local tag
    tag=$(basename "$1")
    mkdir -p "$WORK/blocks"
    awk -v out="$WORK/blocks/$tag" '
        /^```/ && !infence {
            n++; infence = 1
            lang = substr($0, 4); sub(/[ \t].*$/, "", lang)
            if (lang == "") lang = "-"
            file = out "." n
            printf "" > file
            print n, lang, marked, (n > 1 && adjacent), NR
            marked = 0
            next
        }
        /^```[ \t]*$/ && infence { infence = 0; close(file); adjacent = 1; next }
        infence { print > file; next }
        /<!-- *error-example *-->/ { marked = 1; adjacent = 0; next }
        /^[ \t]*$/ { next }
        { marked = 0; adjacent = 0 }
        END { if (infence) { print "unterminated code block" > "/dev/stderr"; exit 1 } }
    ' "$1"
}

n_valid=0 n_error=0 n_output=0 n_readme=0
check_doc() {
    local doc=$1 tag manifest
    tag=$(basename "$doc")
    [[ -f $doc ]] || fail "$doc is missing"
    # Only fences at the start of a line are read: an indented json block
    # would escape the checks.
    if grep -n '^[[:space:]]\+```json' "$doc" >&2; then
        fail "$tag: indented json code block (start it at column 0 so that it is checked)"
    fi
    manifest=$(split_blocks "$doc") || fail "$doc: cannot split into code blocks"
    local -a num lang mark adj line
    local i=0 a b c d e
    while read -r a b c d e; do
        num[i]=$a lang[i]=$b mark[i]=$c adj[i]=$d line[i]=$e
        i=$((i + 1))
    done <<<"$manifest"
    local count=$i
    for ((i = 0; i < count; i++)); do
        local body="$WORK/blocks/$tag.${num[i]}" where="$tag:${line[i]}"
        if [[ ${lang[i]} != json ]]; then
            [[ ${mark[i]} == 1 ]] && fail "$where: <!-- error-example --> must precede a json block"
            continue
        fi
        # The console block that documents this file, if any.
        local expected="" name=""
        local j=$((i + 1))
        if ((j < count)) && [[ ${lang[j]} == console && ${adj[j]} == 1 ]]; then
            local console="$WORK/blocks/$tag.${num[j]}" first
            first=$(head -n 1 "$console")
            [[ $first =~ ^\$\ cgrad\ info\ ([A-Za-z0-9_.-]+\.json)$ ]] ||
                fail "$tag:${line[j]}: a console block after a model file must start with '\$ cgrad info NAME.json', not: $first"
            name=${BASH_REMATCH[1]}
            expected="$WORK/expected"
            tail -n +2 "$console" >"$expected"
            grep -q '^\$ ' "$expected" && fail "$tag:${line[j]}: one command per console block"
        fi
        if [[ ${mark[i]} == 1 ]]; then
            [[ -n $expected ]] || fail "$where: error example without a '\$ cgrad info bad.json' console block after it"
            rm -rf "$WORK/run" && mkdir "$WORK/run"
            cp "$body" "$WORK/run/$name"
            (cd "$WORK/run" && expect_exit 2 "$CGRAD" info "$name") ||
                fail "$where: the error example should be refused with exit status 2"
            [[ ! -s $WORK/out ]] || fail "$where: unexpected output on stdout: $(cat "$WORK/out")"
            diff -u "$expected" "$WORK/err" >&2 ||
                fail "$where: the documented message (-) differs from cgrad's (+)"
            n_error=$((n_error + 1))
        elif grep -q '"layers"' "$body"; then
            rm -rf "$WORK/run" && mkdir "$WORK/run"
            cp "$body" "$WORK/run/${name:-model.json}"
            (cd "$WORK/run" && expect_exit 0 "$CGRAD" info "${name:-model.json}") ||
                fail "$where: this model file example does not pass 'cgrad info'"
            if [[ -n $expected ]]; then
                diff -u "$expected" "$WORK/out" >&2 ||
                    fail "$where: the documented 'cgrad info' output (-) differs from cgrad's (+)"
                n_output=$((n_output + 1))
            fi
            n_valid=$((n_valid + 1))
            [[ $tag == README.md ]] && n_readme=$((n_readme + 1))
        fi
    done
    return 0
}

check_doc "$CG_SOURCE_DIR/docs/model-file.md"
check_doc "$CG_SOURCE_DIR/README.md"

# Guard against the test passing vacuously (markers renamed, blocks reformatted).
((n_valid >= 5)) || fail "only $n_valid complete model file examples found"
((n_error >= 5)) || fail "only $n_error error examples found"
((n_output >= 2)) || fail "only $n_output documented 'cgrad info' outputs found"
((n_readme >= 1)) || fail "README.md has no model file example"
echo "ok: $n_valid model files, $n_error error examples, $n_output info outputs"
