#!/bin/sh
# fastnetmon.sh - sourced: finding FastNetMon and the set-up that tools/compare-fastnetmon.sh
# and bench/fastpath.sh share (docs/compare.md says why each key).
#
#   fnm_setup DIR TMP PORT THRESHOLD_PPS BAN_TIME
#
# writes into DIR fastnetmon.conf (NetFlow v5/v9/IPFIX on 127.0.0.1:PORT,
# 1:1000, 10.0.0.0/16 monitored, its per-host thresholds: THRESHOLD_PPS
# packets/s, 1000 Mbit/s, 3500 flows/s; bans of BAN_TIME seconds),
# fnm-networks.txt, fnm-whitelist.txt and fnm-notify.sh, which appends
# "time IP direction pps action" lines to DIR/fnm-notify.log and the
# attack details to DIR/fnm-details.log.  Its pid and stats files go to TMP.
# fnm_find: FNM = the fastnetmon binary, apt-get installed when missing
# (as root); the package's own system service is stopped and disabled, as
# ours runs in the foreground on its own config.
fnm_find() {
	FNM=$(command -v fastnetmon || :)
	if [ -z "$FNM" ]; then
		[ "$(id -u)" = 0 ] || fail "fastnetmon missing: apt-get install -y fastnetmon"
		DEBIAN_FRONTEND=noninteractive apt-get install -y fastnetmon >&2 || fail "apt-get install fastnetmon"
		FNM=$(command -v fastnetmon) || fail "fastnetmon not found after apt-get"
	fi
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl stop fastnetmon 2>/dev/null || :
		systemctl disable fastnetmon 2>/dev/null || :
	fi
}

fnm_setup() {
	dir=$1 tmp=$2 port=$3 pps=$4 ban_time=$5
	echo 10.0.0.0/16 >"$dir/fnm-networks.txt"
	: >"$dir/fnm-whitelist.txt"
	cat >"$dir/fnm-notify.sh" <<EOS
#!/bin/sh
# fastnetmon's notify_script_path: \$1 IP, \$2 incoming|outgoing, \$3 pps,
# \$4 ban|unban|attack_details; details on stdin (ban, attack_details).
t=\$(date +%s.%N)
printf '%s %s %s %s %s\n' "\$t" "\$1" "\$2" "\$3" "\$4" >>"$dir/fnm-notify.log"
{ printf '== %s %s %s %s %s\n' "\$t" "\$1" "\$2" "\$3" "\$4"; cat; } >>"$dir/fnm-details.log" 2>/dev/null || :
exit 0
EOS
	chmod +x "$dir/fnm-notify.sh"
	cat >"$dir/fastnetmon.conf" <<EOC
# fastnetmon 1.2.4 for mamori (tools/fastnetmon.sh): NetFlow on loopback only,
# per-host thresholds, every other input and output off.
logging_level = info
logging_local_syslog_logging = off
logging_remote_syslog_logging = off
disable_usage_report = on
enable_ban = on
enable_ban_ipv6 = on
process_incoming_traffic = on
process_outgoing_traffic = on
dump_all_traffic = off
dump_other_traffic = off
ban_details_records_count = 20
ban_time = $ban_time
unban_only_if_attack_finished = on
networks_list_path = $dir/fnm-networks.txt
white_list_path = $dir/fnm-whitelist.txt
monitor_local_ip_addresses = off
monitor_openvz_vps_ip_addresses = off
check_period = 1
average_calculation_time = 5
speed_calculation_delay = 1
enable_connection_tracking = on
ban_for_pps = on
ban_for_bandwidth = on
ban_for_flows = on
threshold_pps = $pps
threshold_mbps = 1000
threshold_flows = 3500
ban_for_tcp_bandwidth = off
ban_for_udp_bandwidth = off
ban_for_icmp_bandwidth = off
ban_for_tcp_pps = off
ban_for_udp_pps = off
ban_for_icmp_pps = off
mirror_afpacket = off
mirror_afxdp = off
mirror_netmap = off
pcap = off
sflow = off
netflow = on
netflow_host = 127.0.0.1
netflow_port = $port
netflow_sampling_ratio = 1000
interfaces = lo
notify_script_path = $dir/fnm-notify.sh
collect_attack_pcap_dumps = off
redis_enabled = off
mongodb_enabled = off
exabgp = off
gobgp = off
influxdb = off
graphite = off
kafka_traffic_export = off
enable_api = off
prometheus = off
pid_path = $tmp/fastnetmon.pid
cli_stats_file_path = $tmp/fastnetmon.dat
cli_stats_ipv6_file_path = $tmp/fastnetmon_ipv6.dat
EOC
}
