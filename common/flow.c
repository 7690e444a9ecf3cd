/*
 * flow.c - helpers for the normalized flow record (flow.h).
 */
#include <arpa/inet.h>
#include <string.h>

#include "mamori/flow.h"

static const char *const sampling_src_names[] = {
	[MM_SAMPLING_DEFAULTED] = "defaulted",
	[MM_SAMPLING_HEADER] = "header",
	[MM_SAMPLING_LEARNT] = "learnt",
	[MM_SAMPLING_RECORD] = "record",
	[MM_SAMPLING_CONFIGURED] = "configured",
};

const char *mm_sampling_src_name(unsigned src)
{
	if (src >= sizeof(sampling_src_names) / sizeof(sampling_src_names[0]))
		return "unknown";
	return sampling_src_names[src];
}

const char *mm_addr_str(const uint8_t a[16], char *buf, size_t len)
{
	const char *r;

	if (buf == NULL || len == 0)
		return "";
	if (mm_addr_is4(a))
		r = inet_ntop(AF_INET, a + 12, buf, (socklen_t)(len > 64 ? 64 : len));
	else
		r = inet_ntop(AF_INET6, a, buf, (socklen_t)(len > 64 ? 64 : len));
	/* Too small a buffer: an empty string rather than a half address. */
	if (r == NULL)
		buf[0] = '\0';
	return buf;
}
