/* classes.c - the canonical attack-class and amplification-vector tables. */
#include <string.h>
#include "mamori/classes.h"

static const struct mm_class_info classes[MM_CLASS_COUNT] = {
	[MM_CLASS_FLOOD] = { "flood", MM_ROLE_VICTIM, "volumetric flood (UDP/ICMP/other) against the host" },
	[MM_CLASS_SYN_FLOOD] = { "syn_flood", MM_ROLE_VICTIM, "TCP SYN flood against the host" },
	[MM_CLASS_AMPLIFICATION] = { "amplification", MM_ROLE_VICTIM,
				     "reflection/amplification attack: responses from many reflectors" },
	[MM_CLASS_CARPET_BOMBING] = { "carpet_bombing", MM_ROLE_VICTIM,
				      "flood spread over a prefix, each address below its own alarm" },
	[MM_CLASS_HORIZONTAL_SCAN] = { "horizontal_scan", MM_ROLE_SOURCE,
				       "the host probes many destinations on one or a few ports" },
	[MM_CLASS_VERTICAL_SCAN] = { "vertical_scan", MM_ROLE_SOURCE, "the host probes many ports of one destination" },
	[MM_CLASS_BRUTEFORCE] = { "bruteforce", MM_ROLE_SOURCE,
				  "many short connections to an authentication port (password guessing)" },
	[MM_CLASS_OUTBOUND_FLOOD] = { "outbound_flood", MM_ROLE_SOURCE,
				      "a monitored host sends a flood: likely compromised" },
	[MM_CLASS_OUTBOUND_SCAN] = { "outbound_scan", MM_ROLE_SOURCE,
				     "a monitored host scans others: likely compromised" },
	[MM_CLASS_EXFILTRATION] = { "exfiltration", MM_ROLE_SOURCE,
				    "outbound volume far above the host's own baseline" },
};

const struct mm_amp_vector mm_amp_vectors[] = {
	{ "dns", 53 },     { "ntp", 123 },  { "ssdp", 1900 }, { "memcached", 11211 }, { "cldap", 389 },
	{ "chargen", 19 }, { "snmp", 161 }, { "qotd", 17 },   { "ws-discovery", 3702 }, { "portmap", 111 },
	{ "mssql", 1434 }, { "netbios", 137 }, { "rip", 520 }, { "tftp", 69 },          { "arms", 3283 },
	{ "coap", 5683 },  { "openvpn", 1194 }, { NULL, 0 },
};

const uint16_t mm_auth_ports[] = { 22, 23, 3389, 21, 25, 110, 143, 445, 1433, 3306, 5432, 5900, 0 };

const struct mm_class_info *mm_class_info(enum mm_class c)
{
	return (unsigned)c < MM_CLASS_COUNT ? &classes[c] : NULL;
}

int mm_class_parse(const char *name)
{
	for (int i = 0; i < MM_CLASS_COUNT; i++)
		if (strcmp(classes[i].name, name) == 0)
			return i;
	return -1;
}

const struct mm_amp_vector *mm_amp_vector_by_name(const char *name)
{
	for (const struct mm_amp_vector *v = mm_amp_vectors; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

const struct mm_amp_vector *mm_amp_vector_by_port(uint16_t port)
{
	for (const struct mm_amp_vector *v = mm_amp_vectors; v->name; v++)
		if (v->port == port)
			return v;
	return NULL;
}
