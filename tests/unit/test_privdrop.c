/*
 * test_privdrop.c - giving up root (common/privdrop.c).  As root (CI is)
 * each case runs in a child of its own, since a drop cannot be undone:
 * to nobody (every id changed, no supplementary group, root not
 * regained), the refusal to stay root unasked, allow_root, unknown names.
 * Not root: the cases that need it say so and pass as skipped.
 */
#include <check.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mamori/privdrop.h"

/* Run fn in a child; its exit status. */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int skip_unless_root(void)
{
	if (geteuid() == 0)
		return 0;
	fprintf(stderr, "test_privdrop: SKIP %s: needs root (CI runs as root)\n", tcase_name());
	return 1;
}

static int drop_to_nobody(void)
{
	struct mm_privdrop pd = { "nobody", "", 0 };
	struct passwd *pw = getpwnam("nobody");
	char err[256];
	uid_t r, e, s;
	gid_t gr, ge, gs, groups[8];

	if (pw == NULL)
		return 10;
	if (mm_privdrop(&pd, err, sizeof(err)) != MM_PRIV_DROPPED)
		return 11;
	if (getresuid(&r, &e, &s) < 0 || r != pw->pw_uid || e != pw->pw_uid || s != pw->pw_uid)
		return 12;
	if (getresgid(&gr, &ge, &gs) < 0 || gr != pw->pw_gid || ge != pw->pw_gid || gs != pw->pw_gid)
		return 13;
	if (getgroups(8, groups) != 0)
		return 14; /* supplementary groups cleared */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 15;
	return 0;
}

START_TEST(test_drop_to_nobody)
{
	if (skip_unless_root())
		return;
	ck_assert_int_eq(in_child(drop_to_nobody), 0);
}
END_TEST

static int drop_with_group(void)
{
	struct mm_privdrop pd = { "nobody", "nogroup", 0 };
	struct group *g = getgrnam("nogroup");
	char err[256];

	if (g == NULL)
		return 0; /* no such group here: nothing to check */
	if (mm_privdrop(&pd, err, sizeof(err)) != MM_PRIV_DROPPED || getgid() != g->gr_gid || getegid() != g->gr_gid)
		return 1;
	return 0;
}

START_TEST(test_drop_with_group)
{
	if (skip_unless_root())
		return;
	ck_assert_int_eq(in_child(drop_with_group), 0);
}
END_TEST

static int refuse_root(void)
{
	struct mm_privdrop pd = { "", "", 0 };
	char err[256] = "";

	if (mm_privdrop(&pd, err, sizeof(err)) != -1 || strstr(err, "refusing to run as root") == NULL ||
	    geteuid() != 0)
		return 1;
	pd.allow_root = 1;
	if (mm_privdrop(&pd, err, sizeof(err)) != MM_PRIV_ROOT_ALLOWED || geteuid() != 0)
		return 2;
	return 0;
}

START_TEST(test_refuse_root)
{
	if (skip_unless_root())
		return;
	ck_assert_int_eq(in_child(refuse_root), 0);
}
END_TEST

static int unknown_names(void)
{
	struct mm_privdrop pd = { "mamori-no-such-user", "", 0 };
	char err[256] = "";

	if (mm_privdrop(&pd, err, sizeof(err)) != -1 || strcmp(err, "[daemon] user mamori-no-such-user: no such user") != 0)
		return 1;
	snprintf(pd.user, sizeof(pd.user), "nobody");
	snprintf(pd.group, sizeof(pd.group), "mamori-no-such-group");
	if (mm_privdrop(&pd, err, sizeof(err)) != -1 ||
	    strcmp(err, "[daemon] group mamori-no-such-group: no such group") != 0 || geteuid() != 0)
		return 2;
	snprintf(pd.user, sizeof(pd.user), "root");
	pd.group[0] = '\0';
	if (mm_privdrop(&pd, err, sizeof(err)) != -1 || strstr(err, "is root") == NULL)
		return 3;
	return 0;
}

START_TEST(test_unknown_names)
{
	if (skip_unless_root())
		return;
	ck_assert_int_eq(in_child(unknown_names), 0);
}
END_TEST

/* Not root: nothing to give up, whatever is configured. */
static int unprivileged(void)
{
	struct mm_privdrop pd = { "nobody", "", 0 };
	char err[256];

	if (geteuid() == 0 && mm_privdrop(&pd, err, sizeof(err)) != MM_PRIV_DROPPED)
		return 1;
	return mm_privdrop(&pd, err, sizeof(err)) == MM_PRIV_UNPRIVILEGED ? 0 : 2;
}

START_TEST(test_unprivileged)
{
	ck_assert_int_eq(in_child(unprivileged), 0);
}
END_TEST

START_TEST(test_check_name)
{
	ck_assert_ptr_null(mm_privdrop_check_name(""));
	ck_assert_ptr_null(mm_privdrop_check_name("mamori"));
	ck_assert_ptr_null(mm_privdrop_check_name("_mamori.d-1"));
	ck_assert_str_eq(mm_privdrop_check_name("-x"), "starts with '-'");
	ck_assert_str_eq(mm_privdrop_check_name("a b"),
			 "not a user or group name (letters, digits, '.', '_' and '-')");
	ck_assert_str_eq(mm_privdrop_check_name("a23456789012345678901234567890123"), "longer than 32 characters");
}
END_TEST

static Suite *privdrop_suite(void)
{
	Suite *s = suite_create("privdrop");
	TCase *tc = tcase_create("privdrop");

	tcase_add_test(tc, test_drop_to_nobody);
	tcase_add_test(tc, test_drop_with_group);
	tcase_add_test(tc, test_refuse_root);
	tcase_add_test(tc, test_unknown_names);
	tcase_add_test(tc, test_unprivileged);
	tcase_add_test(tc, test_check_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(privdrop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
