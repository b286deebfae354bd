#!/bin/sh
# t/man.sh - the manual pages in man/ against the public header.
#
#  - every DIPC_API function of include/dragonipc.h has a page of its own
#    name (so that "man NAME" finds it) whose NAME section lists it and
#    whose SYNOPSIS declares it as the header does;
#  - a .so page points at a page that exists and lists the alias too;
#  - every full page lists its own name, has the sections a reader looks
#    for, and refers (in bold, section 3) only to pages that exist;
#  - a Makefile fragment installs every page, and man/man.am names no
#    missing one;
#  - dragonipc(7) has a row for every DIPC_E* code of the header;
#  - every call that takes a timeout words DIPC_EINVAL for it as the
#    library behaves, which t/man_timeouts asks the library: "timeout_ns
#    is less than -1 and not DIPC_TIMEOUT_DEFAULT" where -2 is accepted,
#    "timeout_ns is less than -1" without that exception where it is not;
#  - every page renders without a single groff warning;
#  - the example program of dragonipc(7), built by make check from the
#    page itself, runs to success.
#
# Run by make check with top_srcdir (and top_builddir) in the environment.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
hdr=$top_srcdir/include/dragonipc.h
mandir=$top_srcdir/man

if ! command -v man >/dev/null 2>&1 && ! command -v groff >/dev/null 2>&1; then
	echo "1..0 # SKIP neither man nor groff is installed"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dipc-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

# The public declarations, one a line: strip comments and preprocessor
# lines, join the rest, cut at every ";" and keep the DIPC_API ones.  Then
# the function names, taken before the first "(" of each.
awk '
/^[ \t]*#/ { next }
{
	line = $0; out = ""
	while (line != "") {
		if (inc) {
			i = index(line, "*/")
			if (!i) { line = ""; break }
			line = substr(line, i + 2); inc = 0
		} else {
			i = index(line, "/*")
			if (!i) { out = out line; line = ""; break }
			out = out substr(line, 1, i - 1); line = substr(line, i + 2); inc = 1
		}
	}
	sub(/\/\/.*/, "", out)
	printf "%s ", out
}' "$hdr" | tr -s ' \t' '  ' | grep -o 'DIPC_API [^;]*;' | sed 's/^DIPC_API //' >"$tmp/decls"
sed -n 's/^[^(]*[^A-Za-z0-9_]\(dipc_[A-Za-z0-9_]*\) *(.*/\1/p' "$tmp/decls" >"$tmp/api"

# A page's SYNOPSIS as one string without white space, roff taken out.
synopsis() {
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$1" |
	sed -n 's/^\.[BIR][BIR]* //p' |
	sed -e 's/"//g' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' |
	tr -d ' \t\n'
}

# Names a page's NAME section lists (before the "\-").
page_names() {
	awk '
	/^\.SH/ { if (inname) exit; if ($0 ~ /^\.SH +"?NAME"?$/) { inname = 1; next } }
	inname { text = text " " $0 }
	END {
		sub(/\\-.*/, "", text)
		gsub(/\\f[BIRP]|\\&/, "", text)
		n = split(text, w, /[ ,]+/)
		for (i = 1; i <= n; i++) if (w[i] != "") print w[i]
	}' "$1"
}

# The page a .so line points at, or nothing for a full page.
so_target() {
	sed -n '1{/^\.so /{s/^\.so  *//;p;};}' "$1"
}

pages=$(cd "$mandir" && ls -- *.1 *.3 *.7 2>/dev/null)
napi=$(wc -l <"$tmp/api")
npages=$(printf '%s\n' "$pages" | grep -c .)
ncodes=$(grep -c '^#define DIPC_E[A-Z]* *(-[0-9]*)' "$hdr")

n=0
failed=0
ok() {	# ok STATUS DESCRIPTION [DIAGNOSTIC-FILE]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		if [ -n "${3:-}" ] && [ -s "$3" ]; then
			sed 's/^/#   /' "$3" | head -n 40
		fi
	fi
}

if [ "$napi" -lt 1 ]; then
	echo "1..1"
	echo "not ok 1 - found no DIPC_API function in $hdr"
	exit 1
fi

# Which renderers check the pages.
have_man=0
have_groff=0
command -v man >/dev/null 2>&1 && have_man=1
command -v groff >/dev/null 2>&1 && have_groff=1
nrender=$((have_man + have_groff))

# How the library treats DIPC_TIMEOUT_DEFAULT and lower values, a line
# per function that takes a timeout (built by make check on POSIX).
probe=$top_builddir/t/man_timeouts
: >"$tmp/timeouts"
if [ -x "$probe" ]; then
	"$probe" >"$tmp/timeouts" 2>"$tmp/probe.err" || {
		echo "1..1"
		echo "not ok 1 - t/man_timeouts failed"
		sed 's/^/#   /' "$tmp/probe.err"
		exit 1
	}
fi
ntimeouts=$(grep -c . "$tmp/timeouts")
[ "$ntimeouts" -gt 0 ] || ntimeouts=1    # a single skip

echo "1..$((napi + npages * (2 + nrender) + 3 + ntimeouts))"

# What the Makefile fragments install.
cat "$top_srcdir"/Makefile.am "$top_srcdir"/*/*.am "$top_srcdir"/*/*/*.am >"$tmp/am" 2>/dev/null

# Every name that some full page's NAME section lists.
: >"$tmp/listed"
for p in $pages; do
	[ -n "$(so_target "$mandir/$p")" ] && continue
	page_names "$mandir/$p" >>"$tmp/listed"
done

# Each function: a page of its name, listed in a NAME section, and the
# header's declaration, white space aside, in that page's SYNOPSIS.
while read -r f; do
	text=$(grep "[^A-Za-z0-9_]$f *(" "$tmp/decls" | head -n 1)
	decl=$(printf '%s' "$text" | tr -d ' \t')
	msg=
	if [ ! -f "$mandir/$f.3" ]; then
		msg="no file man/$f.3"
	elif ! grep -qx "$f" "$tmp/listed"; then
		msg="no NAME section lists $f"
	else
		page=$mandir/$f.3
		tgt=$(so_target "$page")
		[ -n "$tgt" ] && page=$mandir/${tgt##*/}
		if ! synopsis "$page" | grep -qF -- "$decl"; then
			msg="the SYNOPSIS of man/${page##*/} does not declare $f as the header does: $text"
		fi
	fi
	echo "$msg" >"$tmp/why"
	[ -z "$msg" ]
	ok $? "$f has a manual page whose SYNOPSIS matches the header" "$tmp/why"
done <"$tmp/api"

# Each page on its own: names, sections, references.
for p in $pages; do
	stem=${p%.*}
	sec=${p##*.}
	file=$mandir/$p
	: >"$tmp/why"
	tgt=$(so_target "$file")
	if [ -n "$tgt" ]; then
		t=$mandir/${tgt##*/}
		if [ "$tgt" != "man$sec/${tgt##*/}" ]; then
			echo ".so $tgt: expected man$sec/NAME.$sec" >>"$tmp/why"
		elif [ ! -f "$t" ]; then
			echo ".so $tgt: no such page in man/" >>"$tmp/why"
		elif [ -n "$(so_target "$t")" ]; then
			echo ".so $tgt: points at another .so page" >>"$tmp/why"
		elif ! page_names "$t" | grep -qx "$stem"; then
			echo ".so $tgt: its NAME section does not list $stem" >>"$tmp/why"
		fi
		[ "$(grep -c . "$file")" -eq 1 ] || echo "a .so page must hold its .so line only" >>"$tmp/why"
	else
		page_names "$file" | grep -qx "$stem" ||
			echo "NAME section does not list $stem" >>"$tmp/why"
		grep -iq "^\.TH $stem $sec " "$file" || echo "no .TH $stem $sec line" >>"$tmp/why"
		want="NAME DESCRIPTION SEE_ALSO"
		[ "$sec" = 3 ] && want="NAME SYNOPSIS DESCRIPTION RETURN_VALUE ERRORS SEE_ALSO"
		for s in $want; do
			s=$(echo "$s" | tr _ ' ')
			grep -Eq "^\.SH \"?$s\"?$" "$file" || echo "no $s section" >>"$tmp/why"
		done
		# References like ".BR dipc_xxx (3)" must resolve.
		sed -n 's/^\.BR  *\([A-Za-z0-9_]*\)  *(\([0-9]\)).*/\1.\2/p' "$file" |
		grep -E '^(dipc_.*|dipc|dragonipc)\.[0-9]$' |
		while read -r ref; do
			[ -f "$mandir/$ref" ] || echo "refers to $ref, which does not exist" >>"$tmp/why"
		done
	fi
	[ ! -s "$tmp/why" ]
	ok $? "man/$p: names, sections and references" "$tmp/why"

	grep -Eq "man/$p( |\$)" "$tmp/am"
	ok $? "man/$p is installed (by man/man.am or another Makefile fragment)"
done

# man/man.am names nothing that is not there.
: >"$tmp/why"
for m in $(sed -n 's/.*\(man\/[A-Za-z0-9_.]*\.[37]\).*/\1/p' "$mandir/man.am"); do
	[ -f "$top_srcdir/$m" ] || echo "$m is listed but missing" >>"$tmp/why"
done
[ ! -s "$tmp/why" ]
ok $? "man/man.am lists only pages that exist" "$tmp/why"

# The error table of dragonipc(7).
: >"$tmp/why"
for e in $(sed -n 's/^#define \(DIPC_E[A-Z]*\)  *(-[0-9]*).*/\1/p' "$hdr"); do
	grep -Eq "^\.BR? $e( |\$)" "$mandir/dragonipc.7" ||
		echo "$e has no row in the ERRORS table of dragonipc(7)" >>"$tmp/why"
done
[ "$ncodes" -gt 0 ] || echo "found no DIPC_E* code in the header" >>"$tmp/why"
[ ! -s "$tmp/why" ]
ok $? "dragonipc(7) explains all $ncodes DIPC_E* codes" "$tmp/why"

# The DIPC_EINVAL wording for timeouts, against the library's answers.
# A page's ERRORS section as plain text on one line.
errors_text() {
	sed -n '/^\.SH ERRORS/,/^\.SH /p' "$1" | sed -e '/^\.SH/d' \
		-e 's/^\.[A-Z][A-Z]* *//' -e 's/"//g' -e 's/\\f[BIRP]//g' \
		-e 's/\\-/-/g' -e 's/\\&//g' | tr '\n' ' ' | tr -s ' '
}
if [ ! -s "$tmp/timeouts" ]; then
	n=$((n + 1))
	echo "ok $n # SKIP t/man_timeouts is not built (make check builds it on POSIX systems)"
fi
while read -r f def below; do
	page=$mandir/$f.3
	tgt=$(so_target "$page")
	[ -n "$tgt" ] && page=$mandir/${tgt##*/}
	text=$(errors_text "$page")
	accepts="timeout_ns is less than -1 and not DIPC_TIMEOUT_DEFAULT"
	refuses="timeout_ns is less than -1"
	: >"$tmp/why"
	if [ "$below" != refused ]; then
		echo "$f accepts a timeout below -2; no page can say so" >>"$tmp/why"
	elif [ "$def" = accepted ]; then
		case $text in
		*"$accepts"*) ;;
		*) echo "$f accepts DIPC_TIMEOUT_DEFAULT: its ERRORS must say \"$accepts\"" >>"$tmp/why" ;;
		esac
	else
		case $text in
		*"$accepts"*) echo "$f refuses DIPC_TIMEOUT_DEFAULT, but its ERRORS say \"$accepts\"" >>"$tmp/why" ;;
		*"$refuses"*) ;;
		*) echo "$f refuses DIPC_TIMEOUT_DEFAULT: its ERRORS must say \"$refuses\"" >>"$tmp/why" ;;
		esac
	fi
	[ ! -s "$tmp/why" ]
	ok $? "man/${page##*/}: DIPC_EINVAL for the timeout of $f as the library does (DIPC_TIMEOUT_DEFAULT $def)" "$tmp/why"
done <"$tmp/timeouts"

# Rendering.  A .so line is resolved against the parent of its manN
# directory, so give the renderers one whose man1, man3 and man7 are man/.
mkdir "$tmp/root" && for d in man1 man3 man7; do ln -s "$mandir" "$tmp/root/$d"; done
for p in $pages; do
	sec=${p##*.}
	if [ "$have_man" = 1 ]; then
		(cd "$tmp/root" && MANWIDTH=80 LC_ALL=C.UTF-8 \
			man --warnings -E UTF-8 -l -Tutf8 -Z "man$sec/$p") \
			>/dev/null 2>"$tmp/why"
		[ ! -s "$tmp/why" ]
		ok $? "man/$p renders without warnings (man --warnings)" "$tmp/why"
	fi
	if [ "$have_groff" = 1 ]; then
		(cd "$tmp/root" && groff -ww -z -man -Tutf8 -k "man$sec/$p") \
			>/dev/null 2>"$tmp/why"
		[ ! -s "$tmp/why" ]
		ok $? "man/$p renders without warnings (groff -ww)" "$tmp/why"
	fi
done

# The example of dragonipc(7), extracted and built by make check.
ex=$top_builddir/man/dragonipc-example
if [ -x "$ex" ] || [ -x "$ex.exe" ]; then
	"$ex" >"$tmp/out" 2>&1
	st=$?
	grep -q '^parent: the child received all 10 messages' "$tmp/out"
	found=$?
	[ $st -eq 0 ] && [ $found -eq 0 ]
	ok $? "the example program of dragonipc(7) runs (exit $st)" "$tmp/out"
else
	n=$((n + 1))
	echo "ok $n # SKIP the example of dragonipc(7) is not built (make check builds it on POSIX systems)"
fi

[ "$failed" -eq 0 ]
