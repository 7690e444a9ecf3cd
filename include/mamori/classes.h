/*
 * classes.h - the canonical attack classes (../shared/BRIEF.md).  Alerts,
 * config keys, ground-truth files and `mamori eval` all use these names;
 * nothing else spells them.
 */
#ifndef MAMORI_CLASSES_H
#define MAMORI_CLASSES_H

#include <stdint.h>

enum mm_class {
	MM_CLASS_FLOOD = 0,      /* volumetric UDP/ICMP/other flood: victim */
	MM_CLASS_SYN_FLOOD,      /* TCP SYN-only flows: victim */
	MM_CLASS_AMPLIFICATION,  /* UDP from a service port, many reflectors: victim */
	MM_CLASS_CARPET_BOMBING, /* a prefix flooded, no single host over: victim prefix */
	MM_CLASS_HORIZONTAL_SCAN,/* one source, many destinations, few ports: source */
	MM_CLASS_VERTICAL_SCAN,  /* one source, one destination, many ports: source */
	MM_CLASS_BRUTEFORCE,     /* many short flows to an auth port: source and target */
	MM_CLASS_OUTBOUND_FLOOD, /* a monitored host flooding out: source */
	MM_CLASS_OUTBOUND_SCAN,  /* a monitored host scanning out: source */
	MM_CLASS_EXFILTRATION,   /* outbound bytes far above baseline: source */
	MM_CLASS_COUNT
};

enum mm_role { MM_ROLE_VICTIM = 0, MM_ROLE_SOURCE = 1 };

struct mm_class_info {
	const char *name;  /* canonical name */
	enum mm_role role; /* role of the host the alert names */
	const char *text;  /* the class in plain words, for analysts */
};

/* An amplification vector: the service whose responses are reflected. */
struct mm_amp_vector {
	const char *name; /* dns, ntp, ... */
	uint16_t port;    /* UDP source port of the reflected traffic */
};

const struct mm_class_info *mm_class_info(enum mm_class c);
/* Class by name; -1 if unknown. */
int mm_class_parse(const char *name);
/* The amplification vector table (one place), terminated by a NULL name. */
extern const struct mm_amp_vector mm_amp_vectors[];
/* Vector by name or by UDP source port; NULL if unknown. */
const struct mm_amp_vector *mm_amp_vector_by_name(const char *name);
const struct mm_amp_vector *mm_amp_vector_by_port(uint16_t port);
/* Authentication ports that brute-force detection watches, 0-terminated. */
extern const uint16_t mm_auth_ports[];

#endif
