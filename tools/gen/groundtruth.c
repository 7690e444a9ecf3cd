/*
 * groundtruth.c - the ground truth file (--truth) and the record dump
 * (--dump).  Formats: docs/generator.md.
 *
 * Ground truth: tab-separated, a header line, then one line per attack
 * that ran (started before the scenario ended), in command-line order:
 *   class  vector  role  target  start  end  strength  peer
 * Then one line per benign look-alike: class "benign", the kind in the
 * vector column, role "lookalike", the host (update_check: the prefix).
 * start/end are Unix seconds on the scenario clock (end clipped to where
 * the scenario stopped); strength is SAMPLED packets per second at full
 * strength; peer the other side of a source class (its target), or "-".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "gen.h"

static void put_time(FILE *fp, uint64_t t0_ms, uint64_t us)
{
	uint64_t ms = t0_ms + us / 1000;
	if (ms % 1000 == 0)
		fprintf(fp, "%" PRIu64, ms / 1000);
	else
		fprintf(fp, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000));
}

int gen_truth_write(const char *path, const struct gen_attack *a, unsigned n, const struct gen_benign *b,
		    unsigned nb, uint64_t t0_ms, uint64_t end_us)
{
	FILE *fp = fopen(path, "w");
	char tgt[64], peer[64];

	if (!fp)
		return -1;
	fprintf(fp, "class\tvector\trole\ttarget\tstart\tend\tstrength\tpeer\n");
	for (unsigned i = 0; i < n; i++) {
		if (a[i].start_us >= end_us)
			continue;
		uint64_t e = a[i].end_us < end_us ? a[i].end_us : end_us;
		fprintf(fp, "%s\t%s\t%s\t%s\t", gen_attack_class_name(a[i].cls), gen_attack_vector(&a[i]),
			gen_attack_role(&a[i]), gen_attack_target(&a[i], tgt, sizeof(tgt)));
		put_time(fp, t0_ms, a[i].start_us);
		fputc('\t', fp);
		put_time(fp, t0_ms, e);
		fprintf(fp, "\t%.6g\t%s\n", a[i].pps, gen_attack_peer(&a[i], peer, sizeof(peer)));
	}
	/* look-alikes: class benign, the kind in the vector column */
	for (unsigned i = 0; i < nb; i++) {
		if (b[i].start_us >= end_us)
			continue;
		uint64_t e = b[i].end_us < end_us ? b[i].end_us : end_us;
		fprintf(fp, "benign\t%s\tlookalike\t%s\t", gen_benign_kind_name(b[i].kind),
			gen_benign_target(&b[i], tgt, sizeof(tgt)));
		put_time(fp, t0_ms, b[i].start_us);
		fputc('\t', fp);
		put_time(fp, t0_ms, e);
		fprintf(fp, "\t%.6g\t-\n", b[i].pps);
	}
	int err = ferror(fp);
	if (fclose(fp) != 0 || err) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

void gen_dump_header(FILE *out)
{
	fprintf(out, "start_ms\tend_ms\tsrc\tsport\tdst\tdport\tproto\ttcp_flags\tpackets\tbytes\tsampling\torigin\n");
}

void gen_dump_record(FILE *out, const struct mm_flow *f, const char *origin)
{
	char s[64], d[64];
	fprintf(out, "%" PRIu64 "\t%" PRIu64 "\t%s\t%u\t%s\t%u\t%u\t0x%02x\t%" PRIu64 "\t%" PRIu64 "\t%u\t%s\n",
		f->start_ms, f->end_ms, gen_addr_str(f->src_addr, s, sizeof(s)), f->src_port,
		gen_addr_str(f->dst_addr, d, sizeof(d)), f->dst_port, f->proto, f->tcp_flags, f->packets, f->bytes,
		f->sampling_rate, origin);
}
