# cflow_records.awk - the flow records TShark decodes in a NetFlow v5/v9/
# IPFIX capture, from `tshark -T pdml` on stdin.
#
#   tshark -2 -r F [-d udp.port==P,cflow] -T pdml | awk -f cflow_records.awk
#       prints "<flow records> <options data records>"
#   ... | awk -v mode=tuples -f cflow_records.awk
#       prints one line per flow record:
#       "src dst sport dport proto bytes packets" (ICMP: sport 0, dport
#       type<<8|code, the NetFlow convention; a missing field prints 0)
#
# Why PDML: cflow.count is the export header's count (v9 counts template
# records too; IPFIX has no record count), and `-e cflow.srcaddr` misses
# records without IPv4 addresses and cannot tell records apart when a frame
# mixes templates.  In PDML each data set is a line
# `show="FlowSet K [id=T] ..."` (v9) or `show="Set K [id=T] ..."` (IPFIX)
# and each record decoded in it is a `show="Flow N"` line one level deeper
# (a set whose template is unknown has none; "(N flows)" in the set line is
# missing for variable-length templates, so the Flow lines are counted).
# Every v5 record is a `show="pdu I/N"` line.  Options data records are
# told apart by their template: a set is options data when its (exporter
# address, source id / observation domain, template id) was announced by an
# "Options Template (Id = T)" line anywhere in the file.
function showval(s) {
	if (match(s, /show="[^"]*"/))
		return substr(s, RSTART + 6, RLENGTH - 7)
	return ""
}
function hexval(s,    i, c, v) {
	if (!match(s, /value="[0-9a-fA-F]*"/))
		return 0
	s = tolower(substr(s, RSTART + 7, RLENGTH - 8))
	v = 0
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function indent(s) { return match(s, /[^ ]/) - 1 }
function endrec() {
	if (rec && mode == "tuples") {
		if (dport == "" && icmp == "" && icmpt != "")
			icmp = icmpt * 256 + icmpc
		if (dport == "" && icmp != "")
			dport = icmp
		nrl++
		rset[nrl] = rec
		rline[nrl] = (src == "" ? "-" : src) " " (dst == "" ? "-" : dst) " " \
		    (sport == "" ? 0 : sport) " " (dport == "" ? 0 : dport) " " \
		    (proto == "" ? 0 : proto) " " (octets == "" ? 0 : octets) " " \
		    (pkts == "" ? 0 : pkts)
	}
	rec = 0
	src = dst = sport = dport = proto = octets = pkts = icmp = icmpt = icmpc = ""
}
BEGIN { flows = 0; nsets = 0; cur = 0; rec = 0; nrl = 0 }
/<packet>/ { endrec(); xaddr = ""; dom = ""; inset = 0; cur = 0 }
/name="ip\.src"|name="ipv6\.src"/ { if (xaddr == "") xaddr = showval($0) }
# The header's domain comes before the first set; IPFIX options records
# may carry cflow.od_id again as a scope field.
/name="cflow\.source_id"|name="cflow\.od_id"/ { if (!inset) dom = showval($0) }
/show="pdu [0-9]+\/[0-9]+"/ { endrec(); flows++; rec = -1; next }
/show="Options Template \(Id = [0-9]+\)/ {
	if (match($0, /Id = [0-9]+/))
		opt[xaddr SUBSEP dom SUBSEP substr($0, RSTART + 5, RLENGTH - 5)] = 1
}
/show="(Flow)?Set [0-9]+ \[id=[0-9]+\]/ {
	endrec()
	inset = 1
	cur = 0
	match($0, /\[id=[0-9]+\]/)
	tid = substr($0, RSTART + 4, RLENGTH - 5) + 0
	if (tid >= 256) {
		cur = ++nsets
		skey[cur] = xaddr SUBSEP dom SUBSEP tid
		sdepth[cur] = indent($0) + 2
		scount[cur] = 0
	}
	next
}
/show="Flow [0-9]+"/ {
	if (cur && indent($0) == sdepth[cur]) {
		endrec()
		scount[cur]++
		rec = cur
	}
	next
}
rec != 0 && /name="cflow\.(srcaddr|srcaddrv6)"/ { if (src == "") src = showval($0) }
rec != 0 && /name="cflow\.(dstaddr|dstaddrv6)"/ { if (dst == "") dst = showval($0) }
rec != 0 && /name="cflow\.srcport"/ { if (sport == "") sport = showval($0) }
rec != 0 && /name="cflow\.dstport"/ { if (dport == "") dport = showval($0) }
rec != 0 && /name="cflow\.icmp_type_code_ipv[46]"/ { if (icmp == "") icmp = hexval($0) }
# IPFIX icmpTypeIPv4/icmpCodeIPv4 (176/177), IPv6 (178/179) and what
# TShark splits icmpTypeCodeIPv6 (139) into
rec != 0 && /name="cflow\.icmp_ipv[46]_type"/ { if (icmpt == "") icmpt = showval($0) }
rec != 0 && /name="cflow\.icmp_ipv[46]_code"/ { if (icmpc == "") icmpc = showval($0) + 0 }
rec != 0 && /name="cflow\.protocol"/ { if (proto == "") proto = showval($0) }
rec != 0 && /name="cflow\.octets(64)?"/ { if (octets == "") octets = showval($0) }
rec != 0 && /name="cflow\.packets(64)?"/ { if (pkts == "") pkts = showval($0) }
END {
	endrec()
	o = 0
	for (i = 1; i <= nsets; i++) {
		if (skey[i] in opt) {
			o += scount[i]
			isopt[i] = 1
		} else {
			flows += scount[i]
		}
	}
	if (mode == "tuples") {
		for (i = 1; i <= nrl; i++)
			if (rset[i] < 0 || !(rset[i] in isopt))
				print rline[i]
	} else {
		print flows, o
	}
}
