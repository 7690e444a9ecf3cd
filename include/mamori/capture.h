/*
 * capture.h - the intake seam.  Every export datagram the collector handles,
 * whether it came off a live socket (intake.h) or out of a capture file
 * (here), is delivered through one function shape, mm_datagram_fn, so the
 * code behind it cannot tell the two apart.  Tests and deterministic replay
 * read captures; production reads sockets.
 */
#ifndef MAMORI_CAPTURE_H
#define MAMORI_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/*
 * One export datagram: exporter address (16 bytes, IPv4-mapped), its af
 * (4/6), source port, UDP payload, capture (or receive) time in Unix ms.
 * `src` and `payload` are only valid during the call.
 * Return 0 to go on, non-zero to stop.
 */
typedef int (*mm_datagram_fn)(void *arg, const uint8_t src[16], int src_af, uint16_t sport,
			      const uint8_t *payload, size_t len, uint64_t ts_ms);

/*
 * What mm_capture_read saw.  Every frame is counted in `frames`, and:
 *   datagrams          delivered to the callback
 *   skipped_non_udp    not IPv4/IPv6 (ARP, ...), IP carrying another protocol
 *                      (TCP, ICMP, ESP, no-next-header, ...), or a link-layer
 *                      family we do not read
 *   skipped_fragments  IPv4 fragments, IPv6 with a (non-atomic) fragment header
 *   truncated          lengths that do not add up: a frame whose link, IP or
 *                      UDP header is cut short by caplen or is inconsistent
 *                      (IPv4 total length below its header length, UDP length
 *                      below 8) is skipped and counted here; a datagram whose
 *                      UDP length claims more than the IP packet or the
 *                      capture holds is delivered with the smaller length and
 *                      counted both here and in `datagrams`.
 */
struct mm_capture_stats {
	uint64_t frames, datagrams, skipped_non_udp, skipped_fragments, truncated;
};

/*
 * Read a pcap or pcapng file (libpcap's pcap_open_offline; "-" is stdin) and
 * deliver every UDP datagram in it, in file order.  Link types: Ethernet
 * (with 802.1Q/802.1ad VLAN tags), Linux SLL and SLL2, raw IP (DLT_RAW,
 * DLT_IPV4, DLT_IPV6), BSD loopback (DLT_NULL, DLT_LOOP).  IPv4 (options
 * skipped) and IPv6 (hop-by-hop, routing, destination options, AH, mobility,
 * HIP and shim6 extension headers skipped; an atomic fragment header with
 * offset 0 and no more-fragments is accepted).  IP fragments and non-UDP are
 * skipped and counted in *stats (which may be NULL; it is zeroed first).
 *
 * Returns the number of datagrams delivered (including the one whose callback
 * asked to stop), or -1 with err filled when the file cannot be opened or is
 * not a capture, or a read error (such as a record cut off at the end of the
 * file) stops it part way; *stats then still counts what was delivered.
 * err may be NULL.
 */
int mm_capture_read(const char *path, mm_datagram_fn fn, void *arg, struct mm_capture_stats *stats,
		    char *err, size_t errlen);

/* The same on one frame already in memory, of pcap link type `dlt`
 * (DLT_EN10MB, ...), for the fuzzer and for tests.  Returns 1 when a
 * datagram was delivered and the callback returned 0, 2 when it was
 * delivered and the callback asked to stop, 0 when the frame was skipped
 * (counted in *stats, which must not be NULL). */
int mm_capture_frame(int dlt, const uint8_t *frame, size_t caplen, uint64_t ts_ms, mm_datagram_fn fn,
		     void *arg, struct mm_capture_stats *stats);

#endif
