# prom_check.awk - check that every line of a page is valid Prometheus text
# exposition (format 0.0.4): HELP and TYPE lines well formed and at most
# once per family, TYPE before the family's samples, a family's samples in
# one block, metric and label names, label values with only \\ \" \n
# escapes, values that parse (NaN, +Inf, -Inf included), no series twice.
# Prints each problem on stderr with its line; exits 1 if there is any (or
# no sample at all).
#   curl -s http://127.0.0.1:9551/metrics | awk -f tests/integration/prom_check.awk
function err(m) { printf "prom_check: line %d: %s: %s\n", NR, m, $0 > "/dev/stderr"; bad++ }
/^# HELP / {
	if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) err("bad metric name in HELP")
	if (help[$3]++) err("second HELP")
	next
}
/^# TYPE / {
	if (NF != 4 || $3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/ || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/)
		err("bad TYPE line")
	if ($3 in type) err("second TYPE")
	if (($3 in sampled)) err("TYPE after the family's samples")
	type[$3] = $4
	cur = $3
	next
}
/^#/ { next }
/^$/ { err("empty line"); next }
{
	if (!match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { err("bad metric name"); next }
	name = substr($0, 1, RLENGTH)
	rest = substr($0, RLENGTH + 1)
	labels = ""
	if (substr(rest, 1, 1) == "{") {
		lv = "\"([^\"\\\\]|\\\\[\\\\\"n])*\""
		if (!match(rest, "^[{][a-zA-Z_][a-zA-Z0-9_]*=" lv "(,[a-zA-Z_][a-zA-Z0-9_]*=" lv ")*[}]")) {
			err("bad labels")
			next
		}
		labels = substr(rest, 1, RLENGTH)
		rest = substr(rest, RLENGTH + 1)
	}
	if (rest !~ /^ (NaN|[+-]Inf|[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)( -?[0-9]+)?$/) { err("bad value"); next }
	fam = name
	if (!(fam in type)) {
		f = name
		sub(/_(sum|count|bucket)$/, "", f)
		if ((f in type) && type[f] ~ /^(summary|histogram)$/) fam = f
	}
	if (!(fam in type)) err("sample without a TYPE")
	else if (fam != cur) err("sample outside its family's block")
	if ((name labels) in series) err("series twice")
	series[name labels] = 1
	sampled[fam] = 1
	samples++
}
END {
	if (samples == 0) { print "prom_check: no samples" > "/dev/stderr"; bad++ }
	exit bad ? 1 : 0
}
