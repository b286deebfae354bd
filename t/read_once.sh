#!/bin/sh
# The read-once convention (lib/internal.h, DIPC_SHARED_READ), checked in
# the sources, so that a second read of a shared geometry field stands out
# in review and fails here:
#
#  1. In lib/ and tools/, every use of a once_ field (->once_x or .once_x)
#     is either the argument of DIPC_SHARED_READ(...) on one line, or the
#     left-hand side of a plain assignment (a store: "=", not "==", "<=",
#     "+=" ...).  Anything else reads the shared field again (a comparison,
#     arithmetic, &, a compound assignment) and is reported as file:line.
#  2. In the structs that live in shared memory (pool_hdr, blk_hdr,
#     chan_hdr, slot_hdr, dipc_stream_shm), every plain member whose name
#     says it is a size, a length, an offset, a capacity or a block
#     reference carries once_, so that rule 1 applies to it.  _Atomic
#     members are outside the naming rule: each of their reads is already
#     a visible atomic_load into a local, checked where it is used.
#
# The checker is also run on a small sample with known re-reads, so that
# it cannot pass by finding nothing.
set -u
: "${top_srcdir:=$(dirname "$0")/..}"
src=$top_srcdir
if [ ! -r "$src/lib/internal.h" ] || ! command -v awk >/dev/null 2>&1; then
	echo "1..0 # SKIP no sources or no awk here"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# C source with comments and string literals blanked, line numbers kept.
# Prints "file:line:text" for each line of each file given.
decomment() {
	awk '
	FNR == 1 { incomment = 0 }
	{
		line = $0
		out = ""
		while (line != "") {
			if (incomment) {
				i = index(line, "*/")
				if (i == 0) { line = ""; break }
				line = substr(line, i + 2)
				incomment = 0
				continue
			}
			i = index(line, "/*")
			j = index(line, "//")
			if (i == 0 && j == 0) { out = out line; break }
			if (j != 0 && (i == 0 || j < i)) { out = out substr(line, 1, j - 1); break }
			out = out substr(line, 1, i - 1) " "
			line = substr(line, i + 2)
			incomment = 1
		}
		gsub(/"([^"\\]|\\.)*"/, "\"\"", out)
		print FILENAME ":" FNR ":" out
	}' "$@"
}

# Rule 1 on the files given: print each line that reads a once_ field
# other than through DIPC_SHARED_READ.
rereads() {
	decomment "$@" | awk '
	{
		line = $0
		sub(/^[^:]*:[0-9]+:/, "", line)
		if (line !~ /(->|\.)once_[A-Za-z0-9_]/)
			next
		# The sanctioned read: DIPC_SHARED_READ(lvalue), on one line.
		gsub(/DIPC_SHARED_READ\([^()]*\)/, "", line)
		# A store: the field, then "=" that is not "==".
		gsub(/(->|\.)once_[A-Za-z0-9_]+[ \t]*=([^=]|$)/, "", line)
		if (line ~ /(->|\.)once_[A-Za-z0-9_]/)
			print
	}'
}

# Rule 2 on the headers given: print "file:line: struct S: member M" for
# each plain member of the shared structs whose name says size, length,
# offset, capacity or block and lacks once_; and "struct S found" for each
# of them seen.
unnamed() {
	decomment "$@" | awk '
	{
		file = $0; sub(/:.*/, "", file)
		rest = $0; sub(/^[^:]*:/, "", rest)
		lno = rest; sub(/:.*/, "", lno)
		line = rest; sub(/^[0-9]+:/, "", line)
	}
	line ~ /^struct (pool_hdr|blk_hdr|chan_hdr|slot_hdr|dipc_stream_shm) *\{/ {
		s = line; sub(/^struct /, "", s); sub(/[ {].*/, "", s)
		print "found " s
		next
	}
	s != "" && line ~ /^};/ { s = ""; next }
	s != "" && line ~ /;/ && line !~ /_Atomic/ {
		m = line
		sub(/;.*/, "", m)
		gsub(/\[[^]]*\]/, "", m)
		sub(/[ \t]+$/, "", m)
		sub(/.*[^A-Za-z0-9_]/, "", m)
		if (m ~ /^once_/)
			next
		if (m ~ /(^|_)(size|len|off|offset|capacity|rover|blk)$/)
			print file ":" lno ": struct " s ": member " m " lacks once_"
	}'
}

# ---- the checker on a sample with known answers ------------------------
cat >"$tmp/sample.c" <<'EOF'
/* h->once_a in a comment is no read */
static void sample(struct x *h, struct y *s)
{
	uint64_t a = DIPC_SHARED_READ(h->once_a);
	h->once_a = a;
	s->once_len = DIPC_SHARED_READ(h->once_b);
	puts("h->once_a in a string is no read");
	if (h->once_a > 4)
		return;
	s->once_len += 1;
	use(&s->once_len);
	uint64_t b = h->once_b == 3 ? s->once_len : 0;
}
EOF
rereads "$tmp/sample.c" | sed 's/^[^:]*:\([0-9]*\):.*/\1/' | tr '\n' ' ' >"$tmp/sample.out"
want="8 10 11 12 "
if [ "$(cat "$tmp/sample.out")" = "$want" ]; then
	ok 0 "the checker flags a comparison, a compound assignment, an address and a plain read, and passes the macro and stores"
else
	ok 1 "the checker flags the re-reads of a sample and nothing else"
	echo "#   flagged lines: $(cat "$tmp/sample.out")(want $want)"
fi

# ---- rule 1 on lib/ and tools/ -------------------------------------------
files=$(ls "$src"/lib/*.[ch] "$src"/lib/*/*.[ch] "$src"/tools/*.[ch] 2>/dev/null)
# shellcheck disable=SC2086
uses=$(decomment $files | grep -c -E '(->|\.)once_[A-Za-z0-9_]')
# shellcheck disable=SC2086
rereads $files | sed "s|^$src/||" >"$tmp/rereads"
if [ -s "$tmp/rereads" ]; then
	ok 1 "lib/ and tools/ read once_ fields only through DIPC_SHARED_READ"
	sed 's/^/#   re-read: /' "$tmp/rereads"
elif [ "$uses" -eq 0 ]; then
	ok 1 "lib/ and tools/ read once_ fields only through DIPC_SHARED_READ"
	echo "#   no once_ field is used at all: are these the sources?"
else
	ok 0 "lib/ and tools/ read once_ fields only through DIPC_SHARED_READ ($uses lines use them)"
fi

# ---- rule 2 on the shared structs ------------------------------------------
# shellcheck disable=SC2086
unnamed $(ls "$src"/lib/*.h) | sed "s|^$src/||" >"$tmp/unnamed"
found=$(sed -n 's/^found //p' "$tmp/unnamed" | sort | tr '\n' ' ')
want="blk_hdr chan_hdr dipc_stream_shm pool_hdr slot_hdr "
if [ "$found" = "$want" ]; then
	ok 0 "the shared structs are found in lib/*.h: $found"
else
	ok 1 "the shared structs are found in lib/*.h"
	echo "#   found: $found(want $want)"
fi
if grep -v '^found ' "$tmp/unnamed" >"$tmp/bad"; then
	ok 1 "every plain size, length, offset or capacity member of them is named once_"
	sed 's/^/#   /' "$tmp/bad"
else
	ok 0 "every plain size, length, offset or capacity member of them is named once_"
fi

echo "1..$n"
[ "$failed" = 0 ]
